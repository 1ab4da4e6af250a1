// SRAM bank ports shared by the units (hw/sram_ports.h): one user alone gets the banks' full
// bandwidth, users of one bank queue behind each other, users of different banks or sides do not.
#include <catch2/catch.hpp>

#include "common/errors.h"
#include "hw/sram_ports.h"

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
