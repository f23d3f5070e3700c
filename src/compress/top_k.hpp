// The Top-k compressor of EF21 and CLAG (Richtarik, Sokolov, Fatkhullin, NeurIPS 2021; Richtarik
// et al., "3PC", ICML 2022): keep the k coordinates of largest magnitude, zero the others. What
// travels is k values in the working precision and their k 32-bit indices.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lag {

// Bytes of one Top-k upload of T values.
inline std::size_t top_k_bytes(std::size_t k, std::size_t value_bytes) {
  return k * (value_bytes + sizeof(std::uint32_t));
}

// The indices of the k largest |v_i| (0 < k <= d), in increasing index order: among equal
// magnitudes the lower index wins, and a NaN counts as larger than everything (a diverging run
// still sends deterministic bytes). `scratch` is reused between calls. O(d) on average: the k-th
// largest magnitude is found by selection on a copy of the magnitudes, then one pass in index
// order takes everything above it and the first of those equal to it.
template <class T>
void top_k(const T* v, std::size_t d, std::size_t k, std::uint32_t* indices,
           std::vector<T>& scratch);

}  // namespace lag
