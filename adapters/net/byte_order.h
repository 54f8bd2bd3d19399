// Little-endian integers in the network layer's headers (the engine's frames are
// little-endian too).
#ifndef DUET_ADAPTERS_NET_BYTE_ORDER_H_
#define DUET_ADAPTERS_NET_BYTE_ORDER_H_

#include <cstddef>
#include <cstdint>

namespace duet::net {

template <typename T>
void PutLittleEndian(uint8_t* out, T value) {
  for (size_t i = 0; i < sizeof(T); ++i) out[i] = static_cast<uint8_t>(value >> (8 * i));
}

template <typename T>
T GetLittleEndian(const uint8_t* in) {
  T value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) value |= static_cast<T>(T{in[i]} << (8 * i));
  return value;
}

}  // namespace duet::net

#endif  // DUET_ADAPTERS_NET_BYTE_ORDER_H_
