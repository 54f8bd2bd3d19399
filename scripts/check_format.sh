#!/usr/bin/env bash
# Every C++ file is formatted with the repository's .clang-format (Google-based).
set -uo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.h' '*.cc' 2>/dev/null || find engine adapters sim fuzz tests bench -name '*.h' -o -name '*.cc')
[ -n "$files" ] || { echo "no C++ files found"; exit 1; }
# shellcheck disable=SC2086
if ! clang-format --dry-run --Werror $files; then
  echo "format check FAILED: run scripts/format.sh"
  exit 1
fi
echo "format check passed ($(echo "$files" | wc -l) files)"
