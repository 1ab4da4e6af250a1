// SRAM bank ports shared by the units (timing/sram_ports.h): one user alone gets the banks' full
// bandwidth, users of one bank queue behind each other, users of different banks or sides do not.
#include <catch2/catch.hpp>

#include "common/errors.h"
#include "timing/sram_ports.h"

using namespace attnsim;

namespace {

// 4 banks of 1 KiB; a bank reads 16 B x 2 ports = 32 B and writes 16 B per cycle.
SramConfig sram() {
  SramConfig s;
  s.banks = 4;
  s.bytes_per_bank = 1024;
  s.port_bytes = 16;
  s.read_ports = 2;
  s.write_ports = 1;
  return s;
}

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

}  // namespace

TEST_CASE("a single user of bank-aligned banks gets ceil(bytes / (banks * port_bytes * ports))", "[units]") {
  for (std::int64_t bytes : {1, 127, 128, 129, 1000, 4096, 5000}) {
    INFO(bytes << " bytes");
    SramPorts ports(sram());
    // All four banks: reads move 4 * 16 * 2 = 128 B per cycle.
    CHECK(ports.reserve({0, 4096}, std::uint64_t(bytes), /*write=*/false, 10) == 10 + ceil_div(bytes, 128));
    // Writes 4 * 16 * 1 = 64 B per cycle, on the other side of the same banks: no interference.
    CHECK(ports.reserve({0, 4096}, std::uint64_t(bytes), /*write=*/true, 10) == 10 + ceil_div(bytes, 64));
    // Two banks (1 and 2): 64 B per cycle of reads.
    CHECK(ports.reserve({1024, 2048}, std::uint64_t(bytes), /*write=*/false, 100000) == 100000 + ceil_div(bytes, 64));
    CHECK(ports.queueing_cycles() == 0);
  }
}

TEST_CASE("two users of one bank at the same cycle queue: the second after the first's need", "[units]") {
  SramPorts ports(sram());
  // Bank 1, writes at 16 B per cycle: 320 B need 20 cycles, 160 B need 10.
  CHECK(ports.reserve({1024, 1024}, 320, /*write=*/true, 100) == 120);
  CHECK(ports.reserve({1024, 512}, 160, /*write=*/true, 100) == 130);  // 100 + 20 + 10
  CHECK(ports.busy_until(1, true) == 130);
  CHECK(ports.queueing_cycles() == 20);  // the second waited for the first's 20 cycles
  // A third arriving mid-way waits for what is left: 130 - 125 = 5 cycles, then its own 2.
  CHECK(ports.reserve({1024 + 512, 512}, 32, /*write=*/true, 125) == 132);
  CHECK(ports.queueing_cycles() == 25);
}

TEST_CASE("users of different banks, or of a bank's read and write sides, do not interfere", "[units]") {
  SramPorts ports(sram());
  CHECK(ports.reserve({0, 1024}, 320, /*write=*/false, 0) == 10);     // bank 0 reads, 32 B/cycle
  CHECK(ports.reserve({2048, 1024}, 320, /*write=*/false, 0) == 10);  // bank 2 reads
  CHECK(ports.reserve({0, 1024}, 320, /*write=*/true, 0) == 20);      // bank 0 writes, 16 B/cycle
  CHECK(ports.queueing_cycles() == 0);
  CHECK(ports.busy_until(1, false) == 0);
  CHECK(ports.busy_until(3, true) == 0);
}

TEST_CASE("a user arriving after the bank went idle is not delayed", "[units]") {
  SramPorts ports(sram());
  CHECK(ports.reserve({1024, 1024}, 320, /*write=*/true, 0) == 20);
  CHECK(ports.reserve({1024, 1024}, 160, /*write=*/true, 50) == 60);
  CHECK(ports.reserve({1024, 1024}, 160, /*write=*/true, 60) == 70);  // arrives exactly as the bank frees
  CHECK(ports.queueing_cycles() == 0);
}

TEST_CASE("bytes are spread over banks in proportion to the region's extent in each", "[units]") {
  SramPorts ports(sram());
  // [768, 1536): 256 bytes in bank 0 (a third), 512 in bank 1 (two thirds). 300 bytes read:
  // bank 0 gets 100 -> ceil(100/32) = 4 cycles, bank 1 gets 200 -> 7 cycles.
  CHECK(ports.reserve({768, 768}, 300, /*write=*/false, 0) == 7);
  CHECK(ports.busy_until(0, false) == 4);
  CHECK(ports.busy_until(1, false) == 7);
  CHECK(ports.bank_read_bytes() == std::vector<std::uint64_t>{100, 200, 0, 0});
  // 301 bytes: timing shares round up (101 and 201: 4 and 7 cycles), the byte totals split exactly.
  CHECK(ports.reserve({768, 768}, 301, /*write=*/false, 100) == 107);
  CHECK(ports.busy_until(0, false) == 104);
  CHECK(ports.bank_read_bytes() == std::vector<std::uint64_t>{201, 400, 0, 0});
  CHECK(ports.bank_written_bytes() == std::vector<std::uint64_t>{0, 0, 0, 0});
  // A user of bank 1 alone now queues behind it, not behind bank 0.
  CHECK(ports.reserve({1024, 32}, 32, /*write=*/false, 100) == 108);
  CHECK(ports.queueing_cycles() == 7);
}

TEST_CASE("an empty transfer takes no time and a region outside the SRAM is a bug", "[units]") {
  SramPorts ports(sram());
  CHECK(ports.reserve({0, 1024}, 0, false, 42) == 42);
  CHECK(ports.reserve({0, 0}, 100, true, 42) == 42);
  CHECK_THROWS_AS(ports.reserve({4000, 200}, 100, false, 0), InternalError);
}

namespace {

SramConfig interleaved(std::int64_t stripe) {
  SramConfig s = sram();
  s.interleave_bytes = stripe;
  return s;
}

}  // namespace

TEST_CASE("interleaved banks: a region's stripes are dealt round the banks", "[units]") {
  // 4 banks of 1 KiB in 64 B stripes: bank = (addr / 64) % 4, a period of 256 B.
  SramPorts ports(interleaved(64));
  // [0, 256): one stripe per bank, 64 B each; reads at 32 B per cycle: 2 cycles (contiguous: all
  // 256 B in bank 0, 8 cycles).
  CHECK(ports.reserve({0, 256}, 256, /*write=*/false, 0) == 2);
  CHECK(ports.bank_read_bytes() == std::vector<std::uint64_t>{64, 64, 64, 64});
  // [96, 296): stripe 1 (bank 1) holds [96, 128) = 32 B, stripe 2 (bank 2) 64 B, stripe 3 (bank 3)
  // 64 B, stripe 4 (bank 0) [256, 296) = 40 B. 100 B written at 16 B per cycle, spread by extent:
  // cumulative shares over banks 1, 2, 3, 0 are ceil(100 * {32, 96, 160, 200} / 200) = 16, 48, 80, 100,
  // so banks 1, 2, 3, 0 take 16, 32, 32, 20 B; cycles ceil(16/16) = 1, 2, 2, ceil(20/16) = 2.
  CHECK(ports.reserve({96, 200}, 100, /*write=*/true, 10) == 12);
  CHECK(ports.bank_written_bytes() == std::vector<std::uint64_t>{20, 16, 32, 32});
  CHECK(ports.busy_until(1, true) == 11);
  CHECK(ports.busy_until(0, true) == 12);
  // The whole SRAM: every bank holds 1 KiB of it. 4096 B read at 4 x 32 B per cycle: 32 cycles.
  CHECK(ports.reserve({0, 4096}, 4096, false, 100) == 132);
  CHECK(ports.queueing_cycles() == 0);
}

TEST_CASE("interleaved banks at 128 B: an unaligned region spreads within a byte-exact split", "[units]") {
  // Stripes of 128 B, a period of 512 B. [100, 1100): stripe 0 (bank 0) [100, 128) = 28 B, stripes
  // 1-7 (banks 1, 2, 3, 0, 1, 2, 3) 128 B each, stripe 8 (bank 0) [1024, 1100) = 76 B: bank 0 holds
  // 28 + 128 + 76 = 232 B, banks 1-3 256 B each. 1000 B read at 32 B per cycle: banks 1-3 need
  // 8 cycles, bank 0 ceil(232 / 32) = 8: 8 cycles (contiguous: [100, 1024) = 924 B in bank 0, 29).
  SramPorts ports(interleaved(128));
  CHECK(ports.reserve({100, 1000}, 1000, false, 0) == 8);
  CHECK(ports.bank_read_bytes() == std::vector<std::uint64_t>{232, 256, 256, 256});
  SramPorts contiguous(sram());
  CHECK(contiguous.reserve({100, 1000}, 1000, false, 0) == 29);
}

TEST_CASE("a stripe of a whole bank is the contiguous layout", "[units]") {
  SramPorts a(sram()), b(interleaved(1024));
  std::uint64_t x = 12345;
  auto next = [&x](std::uint64_t n) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    return (x >> 33) % n;
  };
  for (int i = 0; i < 200; ++i) {
    const std::uint64_t addr = next(4096), bytes = 1 + next(4096 - addr), moved = 1 + next(3000);
    const bool write = next(2);
    const std::int64_t now = std::int64_t(next(50)) + i * 10;
    REQUIRE(a.reserve({addr, bytes}, moved, write, now) == b.reserve({addr, bytes}, moved, write, now));
  }
  CHECK(a.bank_read_bytes() == b.bank_read_bytes());
  CHECK(a.bank_written_bytes() == b.bank_written_bytes());
  CHECK(a.queueing_cycles() == b.queueing_cycles());
}

namespace {

// The reference walks the region one stripe at a time, adding each piece to its bank in the order
// banks are first met, then applies the port model of sram_ports.h to those extents, bank by bank.
// whole_periods_in_4: the share (in quarters) of transfers over whole periods of the address map (banks x
// stripe bytes) or over fewer whole stripes, moving a multiple of the banks touched, which SramPorts
// serves without its general per-bank walk.
void check_against_stripe_walk(std::uint64_t seed, int whole_periods_in_4) {
  std::uint64_t x = seed;
  auto next = [&x](std::uint64_t n) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    return (x >> 33) % n;
  };
  auto ceil_u = [](std::uint64_t a, std::uint64_t b) { return (a + b - 1) / b; };
  // 128-bit: the last trials' banks are huge, so that bytes moved times a bank's extent passes 2^64.
  auto ceil_w = [](unsigned __int128 a, std::uint64_t b) { return std::uint64_t((a + b - 1) / b); };
  for (int trial = 0; trial < 70; ++trial) {
    const bool huge = trial >= 60;
    SramConfig s;
    s.banks = int(1 + next(12));
    const std::int64_t stripe = std::int64_t(64) << next(4);  // 64 .. 512 B
    s.bytes_per_bank = stripe * std::int64_t(1 + next(6)) * (huge ? std::int64_t(1) << 34 : 1);
    s.interleave_bytes = next(5) == 0 ? 0 : stripe;
    s.port_bytes = int(8 << next(4));
    s.read_ports = int(1 + next(2));
    s.write_ports = 1;
    const std::uint64_t g = std::uint64_t(s.stripe_bytes()), total_bytes = std::uint64_t(s.total_bytes());
    INFO("trial " << trial << ": " << s.banks << " banks of " << s.bytes_per_bank << " B, stripe " << g);
    SramPorts ports(s);
    std::vector<std::int64_t> busy_r(std::size_t(s.banks), 0), busy_w(std::size_t(s.banks), 0);
    std::vector<std::uint64_t> tot_r(std::size_t(s.banks), 0), tot_w(std::size_t(s.banks), 0);
    std::vector<std::uint64_t> acc_r(std::size_t(s.banks), 0), acc_w(std::size_t(s.banks), 0);
    std::int64_t queueing = 0;
    const std::uint64_t period = g * std::uint64_t(s.banks), nb = std::uint64_t(s.banks);
    for (int i = 0; i < 40; ++i) {
      std::uint64_t addr = next(total_bytes), bytes = 1 + next(total_bytes - addr);
      // Moved bytes: the region's own size (a DMA transfer), or more or fewer (the array's operand reads).
      std::uint64_t moved = next(3) == 0 ? bytes : 1 + (huge ? next(bytes) << next(20) : next(4 * bytes));
      if (whole_periods_in_4 > 0 && int(next(4)) < whole_periods_in_4) {
        // k whole periods from anywhere (wrapping past the last bank; k small, for the walk's sake), or m
        // whole stripes, fewer than the banks, from a stripe's start; moving a multiple of the banks touched
        const std::uint64_t k = 1 + next(std::min<std::uint64_t>(total_bytes / period, 64));
        const std::uint64_t m = nb > 1 && next(2) ? 1 + next(nb - 1) : 0, touched = m ? m : nb;
        bytes = m ? m * g : k * period;
        addr = m ? g * next(total_bytes / g - m + 1) : next(total_bytes - bytes + 1);
        moved = next(3) == 0 ? bytes : touched * (1 + (huge ? next(bytes) << next(20) : next(4 * bytes / touched + 1)));
      }
      const bool write = next(2);
      const std::int64_t now = std::int64_t(next(20)) + 5 * i;
      // Reference extents, stripe by stripe.
      std::vector<int> order;
      std::vector<std::uint64_t> extent(std::size_t(s.banks), 0);
      for (std::uint64_t a = addr; a < addr + bytes;) {
        const std::uint64_t end = std::min(addr + bytes, (a / g + 1) * g);
        const int bank = int((a / g) % std::uint64_t(s.banks));
        if (extent[std::size_t(bank)] == 0) order.push_back(bank);
        extent[std::size_t(bank)] += end - a;
        a = end;
      }
      const std::uint64_t per_cycle = std::uint64_t(s.port_bytes) * std::uint64_t(write ? s.write_ports : s.read_ports);
      auto& busy = write ? busy_w : busy_r;
      auto& tot = write ? tot_w : tot_r;
      auto& acc = write ? acc_w : acc_r;
      std::int64_t done = now, max_need = 0;
      std::uint64_t before = 0;
      for (int b : order) {
        const std::uint64_t e = extent[std::size_t(b)];
        const std::int64_t need = std::int64_t(ceil_u(ceil_w((unsigned __int128)moved * e, bytes), per_cycle));
        busy[std::size_t(b)] = std::max(now, busy[std::size_t(b)]) + need;
        done = std::max(done, busy[std::size_t(b)]);
        max_need = std::max(max_need, need);
        const std::uint64_t share =
            ceil_w((unsigned __int128)moved * (before + e), bytes) - ceil_w((unsigned __int128)moved * before, bytes);
        tot[std::size_t(b)] += share;
        acc[std::size_t(b)] += ceil_u(share, std::uint64_t(s.port_bytes));
        before += e;
      }
      queueing += done - (now + max_need);
      INFO("region [" << addr << ", +" << bytes << "), " << moved << " B");
      REQUIRE(ports.reserve({addr, bytes}, moved, write, now) == done);
    }
    CHECK(ports.bank_read_bytes() == tot_r);
    CHECK(ports.bank_written_bytes() == tot_w);
    CHECK(ports.bank_read_accesses() == acc_r);
    CHECK(ports.bank_write_accesses() == acc_w);
    std::uint64_t reads = 0, writes = 0;
    for (int b = 0; b < s.banks; ++b) reads += acc_r[std::size_t(b)], writes += acc_w[std::size_t(b)];
    CHECK(ports.access_counts().read == reads);
    CHECK(ports.access_counts().write == writes);
    CHECK(ports.queueing_cycles() == queueing);
    for (int b = 0; b < s.banks; ++b) {
      CHECK(ports.busy_until(b, false) == busy_r[std::size_t(b)]);
      CHECK(ports.busy_until(b, true) == busy_w[std::size_t(b)]);
    }
  }
}

}  // namespace

TEST_CASE("interleaved shares in closed form equal a stripe-by-stripe walk", "[units][property]") {
  check_against_stripe_walk(987654321, 0);
}

TEST_CASE("transfers over whole periods or whole stripes, served without the walk, equal a stripe-by-stripe walk",
          "[units][property]") {
  // Mostly whole periods or whole stripes split evenly (the mapper's timer and the accelerator move
  // most tiles so), mixed with arbitrary regions that visit the banks one by one between them.
  check_against_stripe_walk(123456789, 3);
}

TEST_CASE("accumulator storage has ports of its own: the array's and the units'", "[units]") {
  // 4 KiB of SRAM (addresses [0, 4096)), then 2 KiB of accumulators at [4096, 6144): the units'
  // side moves 64 B per cycle each way, the array's 128 B.
  AccumulatorConfig acc;
  acc.present = true, acc.bytes = 2048, acc.port_bytes = 64, acc.array_port_bytes = 128;
  SramPorts ports(sram(), acc);
  // The array writes 1000 B of partial sums: ceil(1000 / 128) = 8 cycles on its write side.
  CHECK(ports.reserve({4096, 1024}, 1000, /*write=*/true, 0, /*array_side=*/true) == 8);
  // The store DMA reads the same tile at the same time on the units' read side: ceil(1000 / 64) = 16.
  CHECK(ports.reserve({4096, 1024}, 1000, /*write=*/false, 0) == 16);
  // A second units' read queues behind it: 16 + ceil(100 / 64) = 18; it waited 16 cycles.
  CHECK(ports.reserve({5120, 512}, 100, /*write=*/false, 0) == 18);
  // No SRAM bank was touched.
  CHECK(ports.bank_read_bytes() == std::vector<std::uint64_t>{0, 0, 0, 0});
  CHECK(ports.bank_written_bytes() == std::vector<std::uint64_t>{0, 0, 0, 0});
  CHECK(ports.queueing_cycles() == 0);
  const SramPorts::AccumulatorTotals& t = ports.accumulator_totals();
  CHECK(t.array_written_bytes == 1000);
  CHECK(t.array_read_bytes == 0);
  CHECK(t.unit_read_bytes == 1100);
  CHECK(t.queueing_cycles == 16);
  // Past the accumulators, or across the SRAM's end into them, is a bug.
  CHECK_THROWS_AS(ports.reserve({6000, 200}, 100, false, 0), InternalError);
  CHECK_THROWS_AS(ports.reserve({4000, 200}, 100, false, 0), InternalError);
}
