// Overloaded{lambdas...}: one visitor for std::visit out of a lambda per alternative.
#ifndef DUET_ENGINE_OVERLOADED_H_
#define DUET_ENGINE_OVERLOADED_H_

namespace duet {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace duet

#endif  // DUET_ENGINE_OVERLOADED_H_
