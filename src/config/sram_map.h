#pragma once
// The SRAM address map: which bank holds which bytes. Addresses are striped over the banks in
// stripes of g = SramConfig::stripe_bytes(): the byte at addr is in bank (addr / g) % banks (g =
// bytes_per_bank is the contiguous layout, bank = addr / bytes_per_bank). Plain header, used by
// the bank ports (hw/), the SRAM report and the compiler's placement.
//
// A region's extent in bank b, in closed form: with period P = g * banks, bank b holds, of the
// bytes [0, x), F_b(x) = (x / P) g + clamp(x % P - b g, 0, g); the region [lo, hi) then has
// F_b(hi) - F_b(lo) bytes in bank b. The banks a region touches are the stripes it spans, at most
// all of them, visited from the bank of its first byte upward (wrapping): O(min(banks, stripes)).
#include <algorithm>
#include <cstdint>

#include "config/hw_config.h"

namespace attnsim {

// Bytes of [0, x) that bank b holds.
inline std::uint64_t sram_bank_bytes_below(const SramConfig& s, std::uint64_t bank, std::uint64_t x) {
  const std::uint64_t g = std::uint64_t(s.stripe_bytes()), period = g * std::uint64_t(s.banks);
  const std::uint64_t r = x % period, start = bank * g;
  return (x / period) * g + (r > start ? std::min(r - start, g) : 0);
}

// The number of banks [addr, addr + bytes) touches (bytes > 0).
inline std::uint64_t sram_banks_touched(const SramConfig& s, std::uint64_t addr, std::uint64_t bytes) {
  const std::uint64_t g = std::uint64_t(s.stripe_bytes());
  return std::min<std::uint64_t>(std::uint64_t(s.banks), (addr + bytes - 1) / g - addr / g + 1);
}

// Calls f(bank, extent) for each bank [addr, addr + bytes) touches, in the order described above
// (ascending banks for a contiguous layout); the extents sum to bytes. No allocation.
template <typename F>
void for_each_sram_bank_extent(const SramConfig& s, std::uint64_t addr, std::uint64_t bytes, F&& f) {
  if (bytes == 0) return;
  const std::uint64_t g = std::uint64_t(s.stripe_bytes()), banks = std::uint64_t(s.banks), period = g * banks;
  const std::uint64_t first = (addr / g) % banks, n = sram_banks_touched(s, addr, bytes);
  // sram_bank_bytes_below for both ends, its divisions made once (a hot path: every SRAM port
  // reservation of the mapper's timer and of the accelerator walks it).
  const std::uint64_t hi = addr + bytes, hi_q = hi / period * g, hi_r = hi % period;
  const std::uint64_t lo_q = addr / period * g, lo_r = addr % period;
  std::uint64_t b = first;
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::uint64_t start = b * g;
    const std::uint64_t above = hi_q + (hi_r > start ? std::min(hi_r - start, g) : 0);
    const std::uint64_t below = lo_q + (lo_r > start ? std::min(lo_r - start, g) : 0);
    f(int(b), above - below);
    if (++b == banks) b = 0;
  }
}

}  // namespace attnsim
