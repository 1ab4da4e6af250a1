// The mapper over cascade mappings (src/mapper/cascade_search): every mapping it can pick computes
// attention (the functional executor against the reference, every structure, with and without
// accumulator storage, causal and not); more SRAM never makes its pick slower (the capacity ladder:
// the timer's cycles of the pick, and the accelerator's); flash takes no more cycles than unfused
// whenever the whole score matrix fits on chip (cloud and edge presets, LRA text and BERT-base shapes);
// the vanilla variants' mapping files round-trip to a byte-identical report, with path-aware errors;
// and a slice of the SRAM x array design space gives no monotonicity violation for the vanilla
// variants (scripts/check_monotone.py).
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "cascade/cascade.h"
#include "cascade/lower.h"
#include "cascade/mapping.h"
#include "common/errors.h"
#include "config/hw_config.h"
#include "config/presets.h"
#include "hw/accelerator.h"
#include "ir/executor.h"
#include "mapper/cascade_search.h"
#include "support/cli.h"
#include "support/isolated.h"
#include "support/reference.h"
#include "support/scaling.h"

using namespace attnsim;
using namespace attnsim::test;
using cascade::Cascade;
using cascade::Mapping;

namespace {

HwConfig small_hw(std::int64_t bank_bytes, bool accumulators, int side = 8, int banks = 4) {
  Json doc = {{"array",
               {{"rows", side},
                {"cols", side},
                {"dataflow", "os"},
                {"timing", "overlapped"},
                {"gemm_chaining", true},
                {"clock_mhz", 1000},
                {"operand_bytes", 2},
                {"accumulator_bytes", 4}}},
              // Interleaved in 64 B stripes, as the presets: the bank of an address does not depend on
              // the bank size (the ladder's guarantee, cascade_search.h).
              {"sram", {{"banks", banks}, {"bytes_per_bank", bank_bytes}, {"port_bytes", 64}, {"interleave_bytes", 64}}},
              {"dram", {{"model", "ideal"}, {"bytes_per_cycle", 32}, {"latency_cycles", 20}}},
              {"softmax", {{"lanes", side}}}};
  if (accumulators) doc["accumulators"] = {{"bytes", 8192}};
  return parse_hw_config(doc, "test-hw.json");
}

Cascade vanilla(std::int64_t n, std::int64_t d, bool causal) {
  return cascade::bind_cascade(cascade::parse_cascade(cascade::vanilla_attention_json(), "vanilla"),
                               {{"N", double(n)}, {"d", double(d)}}, causal);
}

// One program of `heads` instances of vanilla attention under mapping m: Q, K, V, O and the
// spilled intermediates as DRAM tensors, heads stacked by rows.
struct Program {
  TileProgram p;
  int q = -1, k = -1, v = -1, o = -1;
};
Program vanilla_program(const HwConfig& hw, const Cascade& c, const Mapping& m, int heads) {
  const cascade::CascadePlan plan = cascade::plan_cascade(c, m, hw, std::uint64_t(hw.sram.total_bytes()));
  std::vector<TensorInfo> tensors;
  std::vector<int> tensor_of(c.desc.tensors.size(), -1);
  std::uint64_t next = 0;
  for (std::size_t t = 0; t < c.desc.tensors.size(); ++t) {
    const bool spilled = std::find(plan.spilled.begin(), plan.spilled.end(), int(t)) != plan.spilled.end();
    if (c.desc.tensors[t].role == cascade::TensorRole::Intermediate && !spilled) continue;
    TensorInfo ti{c.desc.tensors[t].name, next, std::uint64_t(heads * c.rows(int(t))), std::uint64_t(c.cols(int(t))),
                  hw.array.operand_bytes};
    next = align_up(next + ti.bytes(), 4096);
    tensor_of[t] = int(tensors.size());
    tensors.push_back(ti);
  }
  std::vector<cascade::Binding> bindings;
  for (int i = 0; i < heads; ++i) {
    cascade::Binding b;
    for (std::size_t t = 0; t < c.desc.tensors.size(); ++t) {
      DramBlock blk;
      if (tensor_of[t] >= 0) blk = {std::uint16_t(tensor_of[t]), i * c.rows(int(t)), 0, c.rows(int(t)), c.cols(int(t))};
      b.blocks.push_back(blk);
    }
    bindings.push_back(b);
  }
  Program r;
  r.p = cascade::lower_program(hw, plan, tensors, bindings);
  r.q = tensor_of[std::size_t(c.desc.tensor_index("Q"))];
  r.k = tensor_of[std::size_t(c.desc.tensor_index("K"))];
  r.v = tensor_of[std::size_t(c.desc.tensor_index("V"))];
  r.o = tensor_of[std::size_t(c.desc.tensor_index("O"))];
  return r;
}

// Two heads of N = 37, d = 8 (heads stacked by rows) run in the executor, in program order (seed 0) and
// in random legal orders: each head's output equals the reference attention.
void check_two_heads(const Program& pr, const HwConfig& hw, const ref::Mat& q, const ref::Mat& k, const ref::Mat& v,
                     bool causal, std::initializer_list<std::uint64_t> seeds) {
  Executor e(pr.p, std::uint64_t(hw.onchip_bytes()));
  e.set_tensor(pr.q, q);
  e.set_tensor(pr.k, k);
  e.set_tensor(pr.v, v);
  for (std::uint64_t seed : seeds) {
    e.run(seed);
    const ref::Mat o = e.tensor(pr.o);
    for (int h = 0; h < 2; ++h) {
      const ref::Mat want = ref::attention(ref::block(q, 8, h * 37, 37, 0, 8), ref::block(k, 8, h * 37, 37, 0, 8),
                                           ref::block(v, 8, h * 37, 37, 0, 8), 37, 8, 1 / std::sqrt(8.0), causal);
      CHECK(ref::max_rel_error(ref::block(o, 8, h * 37, 37, 0, 8), want) < 1e-4);
    }
  }
}

std::int64_t simulated_cycles(const HwConfig& hw, const TileProgram& p) {
  const IsolatedResult r = run_isolated([&] { return std::to_string(simulate(hw, p).stats.cycles); });
  REQUIRE(r.exit_status == 0);
  return std::stoll(r.output);
}

std::int64_t simulated_cycles(const HwConfig& hw, const ProgramSource& p) {
  const IsolatedResult r = run_isolated([&] { return std::to_string(simulate(hw, p).stats.cycles); });
  REQUIRE(r.exit_status == 0);
  return std::stoll(r.output);
}

const std::vector<CascadeStructure> kAll = {CascadeStructure::Online, CascadeStructure::RowBlocks,
                                            CascadeStructure::Whole, CascadeStructure::Spilled};

}  // namespace

TEST_CASE("every mapping the cascade mapper can pick computes attention", "[cascade_search][functional]") {
  // N = 37 (no tile divides it: short last tiles everywhere), d = 8, two heads; 8 KiB banks, with and
  // without 8 KiB of accumulator storage (placement there is a candidate). Every fifth candidate of
  // every structure, in program order and in a random legal order.
  int ran = 0, placed = 0;
  for (bool acc : {false, true})
    for (bool causal : {false, true}) {
      const HwConfig hw = small_hw(8192, acc);
      const Cascade c = vanilla(37, 8, causal);
      const ref::Mat q = ref::random_values(2 * 37 * 8, 1), k = ref::random_values(2 * 37 * 8, 2),
                     v = ref::random_values(2 * 37 * 8, 3);
      CascadeSearchSpec spec;
      spec.instances = 2;
      for (CascadeStructure s : kAll) {
        const std::vector<CascadeCandidate> all =
            cascade_candidates(c, hw, std::uint64_t(hw.sram.total_bytes()), s, spec, MapperEffort::Thorough);
        REQUIRE(!all.empty());
        for (std::size_t i = 0; i < all.size(); i += 5) {
          const Mapping& m = all[i].mapping;
          INFO(to_string(s) << (causal ? " causal" : "") << ": " << cascade::mapping_to_json(c, m).dump());
          for (const cascade::TensorMapping& t : m.tensors) placed += t.at[0] >= 0;
          const Program pr = vanilla_program(hw, c, m, 2);
          check_two_heads(pr, hw, q, k, v, causal, {0, 9});
          ++ran;
        }
      }
    }
  CHECK(ran >= 40);
  CHECK(placed > 0);  // some candidates put their accumulators in the accumulator storage
}

TEST_CASE("the cascade mapper offers the scores alone in the accumulator storage", "[cascade_search]") {
  // 8 KiB of accumulator storage: flash with 32-row query tiles and 64-key tiles has S tiles of
  // 32 x 64 x 4 = 8192 B: both slots (16 KiB) do not fit there, nor beside O's 2 x 32 x 8 x 4 = 2048 B;
  // one slot of S (depth 1) alone does, and so does O alone. Scores alone is a candidate (edge at
  // 64x64 with 8 KiB banks runs its flash 10 % faster so: 64x128 fp32 score tiles in the 64 KiB).
  const HwConfig hw = small_hw(8192, true);
  const Cascade c = vanilla(256, 8, false);
  const int s = c.desc.tensor_index("S"), o = c.desc.tensor_index("O");
  int scores_alone = 0, output_alone = 0;
  for (const CascadeCandidate& x : cascade_candidates(c, hw, std::uint64_t(hw.sram.total_bytes()),
                                                      CascadeStructure::Online, {}, MapperEffort::Default)) {
    const bool ps = x.mapping.tensors[std::size_t(s)].at[0] >= 0, po = x.mapping.tensors[std::size_t(o)].at[0] >= 0;
    scores_alone += ps && !po;
    output_alone += po && !ps;
    if (ps && !po && x.mapping.groups[0].loops[0].tile == 32 && x.mapping.groups[0].loops[1].tile == 64)
      CHECK(x.mapping.tensors[std::size_t(s)].buffers == 1);  // two slots of 8192 B do not fit 8 KiB
  }
  CHECK(scores_alone > 0);
  CHECK(output_alone > 0);
}

TEST_CASE("every resident mapping the cascade mapper can pick computes attention", "[cascade_search][resident]") {
  // As above (N = 37, d = 8, two heads, 8 KiB banks, with and without accumulator storage, causal and
  // not), the online and row-block candidates that keep K and V resident (whole per head, each tile
  // loaded at its first use): every third, in program order and in a random legal order.
  int ran = 0, one_slot = 0;
  for (bool acc : {false, true})
    for (bool causal : {false, true}) {
      const HwConfig hw = small_hw(8192, acc);
      const Cascade c = vanilla(37, 8, causal);
      const ref::Mat q = ref::random_values(2 * 37 * 8, 4), k = ref::random_values(2 * 37 * 8, 5),
                     v = ref::random_values(2 * 37 * 8, 6);
      CascadeSearchSpec spec;
      spec.instances = 2;
      for (CascadeStructure s : {CascadeStructure::Online, CascadeStructure::RowBlocks}) {
        std::vector<Mapping> resident;
        for (const CascadeCandidate& x :
             cascade_candidates(c, hw, std::uint64_t(hw.sram.total_bytes()), s, spec, MapperEffort::Thorough))
          if (!x.mapping.groups[0].resident.empty()) resident.push_back(x.mapping);
        REQUIRE(!resident.empty());
        for (std::size_t i = 0; i < resident.size(); i += 3) {
          const Mapping& m = resident[i];
          INFO(to_string(s) << (causal ? " causal" : "") << ": " << cascade::mapping_to_json(c, m).dump());
          one_slot += m.tensors[std::size_t(c.desc.tensor_index("K"))].buffers == 1;
          const Program pr = vanilla_program(hw, c, m, 2);
          CHECK(count_program(ProgramSource::of(pr.p)).load_bytes == 2u * 3 * 37 * 8 * 2);  // Q, K, V once per head
          check_two_heads(pr, hw, q, k, v, causal, {0, 13});
          ++ran;
        }
      }
    }
  CHECK(ran >= 20);
  CHECK(one_slot > 0);  // one whole-head slot per tensor is a candidate too
}

TEST_CASE("flash at N = 16K on the cloud preset moves at most 1.3x the compulsory DRAM bytes",
          "[cascade_search][resident]") {
  // LRA text's attention: 2 heads of d = 32 at N = 16384, fp16. Compulsory: Q, K, V read and O
  // written once, 4 x 16384 x 32 x 2 B = 4,194,304 B per head, 8,388,608 B for both. K and V of a head
  // take 2 x 1 MiB of the 32 MiB: the mapper keeps them resident instead of re-reading them for every
  // query block (before: query blocks of 2048 rows, K and V read 8 times, 4.5x the compulsory bytes).
  const HwConfig hw = load_hw_config("cloud");
  const Cascade c = vanilla(16384, 32, false);
  CascadeSearchSpec spec;
  spec.structures = {CascadeStructure::Whole, CascadeStructure::RowBlocks, CascadeStructure::Online};
  spec.instances = 2;
  const CascadePick p = search_cascade(c, hw, std::uint64_t(hw.sram.total_bytes()), spec, {}, "attn");
  INFO(cascade::describe(c, p.mapping));
  const ProgramCounts k = count_program(ProgramSource::of(vanilla_program(hw, c, p.mapping, 2).p));
  const std::uint64_t compulsory = 2u * 4 * 16384 * 32 * 2;
  CHECK(k.load_bytes == 2u * 3 * 16384 * 32 * 2);
  CHECK(k.store_bytes == 2u * 16384 * 32 * 2);
  CHECK(double(k.load_bytes + k.store_bytes) <= 1.3 * double(compulsory));
}

TEST_CASE("more SRAM never makes the cascade mapper's pick slower", "[cascade_search]") {
  // The capacity ladder (cascade_search.h): with twice the SRAM the mapper times every mapping it
  // timed with the smaller one, so the cycles of its pick (as timed) never grow; the accelerator
  // runs the picks too. Vanilla attention, N = 256, d = 32, 4 heads, 16x16 array, 4 banks of 4 to
  // 64 KiB, per structure the variants use.
  const Cascade c = vanilla(256, 32, false);
  struct Family {
    const char* name;
    std::vector<CascadeStructure> s;
  };
  for (const Family& f : {Family{"flash", {CascadeStructure::Online, CascadeStructure::RowBlocks, CascadeStructure::Whole}},
                          Family{"row_fused", {CascadeStructure::RowBlocks, CascadeStructure::Whole}},
                          Family{"spilled", {CascadeStructure::Spilled}}}) {
    double prev_timed = -1;
    std::int64_t prev_sim = -1;
    for (std::int64_t kib : {4, 8, 16, 32, 64}) {
      const HwConfig hw = small_hw(kib * 1024, false, 16);
      CascadeSearchSpec spec;
      spec.structures = f.s;
      spec.instances = 4;
      CascadePick p;
      try {
        p = search_cascade(c, hw, std::uint64_t(hw.sram.total_bytes()), spec, {}, "attn");
      } catch (const UserError&) {
        continue;  // nothing fits
      }
      const std::int64_t sim = simulated_cycles(hw, vanilla_program(hw, c, p.mapping, 4).p);
      INFO(f.name << " with 4 banks of " << kib << " KiB: timed " << p.cycles << ", simulated " << sim
                  << "; with half: " << prev_timed << ", " << prev_sim << "; "
                  << cascade::describe(c, p.mapping));
      if (prev_timed >= 0) {
        CHECK(p.cycles <= prev_timed);
        CHECK(sim <= prev_sim);
      }
      prev_timed = p.cycles, prev_sim = sim;
    }
    CHECK(prev_sim > 0);
  }
}

TEST_CASE("flash takes no more cycles than unfused whenever the whole score matrix fits on chip (presets)",
          "[cascade_search][property]") {
  // Unfused keeps the N x N scores on chip when they fit (one query block of all N rows); the flash
  // variant's mapspace holds every such mapping (one key block), and its pick is the fastest of a
  // superset, so flash never does worse. One layer of each model; the edge SRAM (512 KiB) never holds
  // the scores at these N (6 N^2 B >= 1.5 MiB): only the cloud points run there, and they are checked
  // to be the ones where 6 N^2 B (S fp32 and P fp16) fits in the 32 MiB: all of N = 512 ... 2048.
  int compared = 0;
  for (const char* preset : {"cloud", "edge"}) {
    const HwConfig hw = load_hw_config(preset);
    for (const char* model : {"lra-text", "bert-base"})
      for (std::int64_t n : {512, 1024, 2048}) {
        INFO(preset << " " << model << " N=" << n);
        const Built u = build(hw, model, n, "unfused", false);
        const PhaseInfo* attn = find_phase(u.cm, "L0.attention");
        const bool on_chip = attn && attn->plan.find("on chip") != std::string::npos;
        CHECK(on_chip == (6 * std::uint64_t(n) * std::uint64_t(n) < std::uint64_t(hw.sram.total_bytes())));
        if (!on_chip) continue;
        const Built f = build(hw, model, n, "flash", false);
        const std::int64_t cf = simulated_cycles(hw, f.cm.program), cu = simulated_cycles(hw, u.cm.program);
        INFO("flash " << cf << " (" << find_phase(f.cm, "L0.attention")->plan << "), unfused " << cu);
        CHECK(cf <= cu);
        ++compared;
      }
  }
  CHECK(compared == 6);
}

TEST_CASE("the vanilla variants' cascade mappings round-trip to a byte-identical report", "[cascade_search][cli]") {
  const std::string dir = temp_dir();
  for (const char* variant : {"flash", "row_fused", "unfused"}) {
    INFO(variant);
    const std::string model = std::string("--hw edge --model lra-text --seq-len 256 --variant ") + variant;
    const CliResult emitted = run_cli("run " + model + " --emit mapping");
    REQUIRE(emitted.status == 0);
    CHECK_THAT(emitted.out, Catch::Contains("\"L0.attention\": {\"kind\": \"cascade\", \"mapping\": {\"cascade\": \"vanilla\""));
    const std::string file = write_temp(std::string("mapping-") + variant + ".json", emitted.out);
    const std::string a = dir + "/" + variant + "-free", b = dir + "/" + variant + "-fixed";
    REQUIRE(run_cli("run " + model + " --out " + a).status == 0);
    REQUIRE(run_cli("run " + model + " --mapping " + file + " --out " + b).status == 0);
    const std::string ra = slurp(a + "/report.json"), rb = slurp(b + "/report.json");
    REQUIRE(!ra.empty());
    CHECK(ra == rb);
    CHECK_THAT(ra, Catch::Contains("\"kind\": \"cascade\""));
  }
  {
    // cloud, LRA text, N = 16384: flash keeps K and V resident ("resident": ["K", "V"] in its group).
    const std::string model = "--hw cloud --model lra-text --seq-len 16384 --variant flash";
    const CliResult emitted = run_cli("run " + model + " --emit mapping");
    REQUIRE(emitted.status == 0);
    CHECK_THAT(emitted.out, Catch::Contains("\"resident\": [\"K\", \"V\"]"));
    const std::string file = write_temp("mapping-resident.json", emitted.out);
    REQUIRE(run_cli("run " + model + " --out " + dir + "/resident-free").status == 0);
    REQUIRE(run_cli("run " + model + " --mapping " + file + " --out " + dir + "/resident-fixed").status == 0);
    const std::string ra = slurp(dir + "/resident-free/report.json");
    REQUIRE(!ra.empty());
    CHECK(ra == slurp(dir + "/resident-fixed/report.json"));
  }
  {
    // Unfused with its scores spilled (the mapper's three groups, three slots per tensor where they
    // fit): emitted as the op's first phase L0.attention.0 and read back, the same report.
    const std::string model = "--hw edge --model lra-text --seq-len 1024 --variant unfused:spill=1";
    const CliResult emitted = run_cli("run " + model + " --emit mapping");
    REQUIRE(emitted.status == 0);
    CHECK_THAT(emitted.out, Catch::Contains("\"L0.attention.0\": {\"kind\": \"cascade\", \"mapping\": {\"cascade\": "
                                            "\"vanilla\", \"groups\": [{\"steps\": [\"S\"]"));
    CHECK_THAT(emitted.out, Catch::Contains(": 3"));
    const std::string file = write_temp("mapping-spilled.json", emitted.out);
    REQUIRE(run_cli("run " + model + " --out " + dir + "/spilled-free").status == 0);
    REQUIRE(run_cli("run " + model + " --mapping " + file + " --out " + dir + "/spilled-fixed").status == 0);
    const std::string ra = slurp(dir + "/spilled-free/report.json");
    REQUIRE(!ra.empty());
    CHECK(ra == slurp(dir + "/spilled-fixed/report.json"));
    const CliResult again = run_cli("run " + model + " --mapping " + file + " --emit mapping");
    CHECK(again.out == emitted.out);
  }
  {
    // The same, causal (GPT on WikiText-103): the Spilled groups skip the masked tiles across groups
    // (cascade/lower.h), as the mapping read back does.
    const std::string model = "--hw edge --model gpt-wikitext103 --seq-len 256 --variant unfused:spill=1";
    const CliResult emitted = run_cli("run " + model + " --emit mapping");
    REQUIRE(emitted.status == 0);
    CHECK_THAT(emitted.out, Catch::Contains("\"L0.attention.0\": {\"kind\": \"cascade\", \"mapping\": {\"cascade\": "
                                            "\"vanilla\", \"groups\": [{\"steps\": [\"S\"]"));
    const std::string file = write_temp("mapping-spilled-causal.json", emitted.out);
    REQUIRE(run_cli("run " + model + " --out " + dir + "/causal-free").status == 0);
    REQUIRE(run_cli("run " + model + " --mapping " + file + " --out " + dir + "/causal-fixed").status == 0);
    const std::string ra = slurp(dir + "/causal-free/report.json");
    REQUIRE(!ra.empty());
    CHECK(ra == slurp(dir + "/causal-fixed/report.json"));
    CHECK(run_cli("run " + model + " --mapping " + file + " --emit mapping").out == emitted.out);
  }
  // Errors inside a cascade mapping name the path in the mapping file.
  const std::string bad = write_temp(
      "bad-cascade.json",
      R"({"mapping_version": 1, "ops": {"L0.attention": {"kind": "cascade", "mapping": {"cascade": "vanilla",
          "groups": [{"steps": ["S", "P", "O"], "loops": [{"rank": "q", "tile": 64}]}], "buffers": {"S": 65537}}}}})");
  const CliResult r = run_cli("run --hw edge --model lra-text --seq-len 256 --variant flash --emit mapping --mapping " + bad);
  INFO(r.err);
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains(bad + ": /ops/L0.attention/mapping/groups/0/loops/0/rank: no rank \"q\""));
  CHECK_THAT(r.err, Catch::Contains(bad + ": /ops/L0.attention/mapping/buffers/S: buffering depth is 1 to 65536"));
  const std::string res = write_temp(
      "resident-cascade.json",
      R"({"mapping_version": 1, "ops": {"L0.attention": {"kind": "cascade", "mapping": {"cascade": "vanilla",
          "groups": [{"steps": ["S", "P", "O"], "loops": [{"rank": "m", "tile": 64}, {"rank": "p", "tile": 64}],
                      "resident": ["K", "S"]}]}}}})");
  const CliResult r3 = run_cli("run --hw edge --model lra-text --seq-len 256 --variant flash --emit mapping --mapping " + res);
  INFO(r3.err);
  CHECK(r3.status == 2);
  CHECK_THAT(r3.err, Catch::Contains(res + ": /ops/L0.attention/mapping/groups/0/resident/1: S is not read from DRAM in "
                                           "this group (the group writes it); only DRAM inputs of a group can be resident"));
  const std::string big = write_temp(
      "big-cascade.json",
      R"({"mapping_version": 1, "ops": {"L0.attention": {"kind": "cascade", "mapping": {"cascade": "vanilla",
          "groups": [{"steps": ["S", "P", "O"], "loops": []}]}}}})");
  const CliResult r2 = run_cli("run --hw edge --model lra-text --seq-len 256 --variant flash --emit mapping --mapping " + big);
  INFO(r2.err);
  CHECK(r2.status == 2);
  CHECK_THAT(r2.err, Catch::Contains(big + ": /ops/L0.attention/mapping/groups/0: the buffers need"));
}

TEST_CASE("more SRAM or a larger array never costs the vanilla variants cycles (a design-space slice)",
          "[cascade_search][monotone]") {
  // A slice of configs/sweeps/design.json (edge, LRA text) at N = 1024: arrays 8x8 and 16x16 against
  // banks of 8, 32 and 128 KiB, for unfused, row_fused and flash; scripts/check_monotone.py over both
  // resources. The mapper's picks are monotone in its program timer's cycles (the capacity ladder);
  // the accelerator's cycles differ from the timer's by a few tenths of a percent on these programs
  // (test_mapper.cpp: within 2 %), and the GEMM and row-wise phases around the attention have their
  // own planners: the whole runs must be monotone within 0.25 %.
  const std::string dir = temp_dir();
  const std::string spec = write_temp("monotone-slice.json", R"({
    "hardware": "edge", "model": "lra-text",
    "axes": [
      {"path": "/attention/variant", "values": ["unfused", "row_fused", "flash"]},
      {"zip": [{"path": "/array/rows", "values": [8, 16]}, {"path": "/array/cols", "values": [8, 16]}]},
      {"path": "/sram/bytes_per_bank", "name": "bank_bytes", "values": [8192, 32768, 131072]},
      {"path": "/model/seq_len", "values": [1024]}
    ],
    "timeout_s": 120})");
  const CliResult sweep = run_cli("sweep " + spec + " --out " + dir + "/slice -j 2");
  INFO(sweep.out << sweep.err);
  REQUIRE(sweep.status == 0);
  const std::string cmd = "python3 " + std::string(ATTNSIM_SOURCE_DIR) + "/scripts/check_monotone.py " + dir +
                          "/slice/results.csv --resource axis.bank_bytes --resource axis.rows+axis.cols --tolerance 0.0025 > " + dir +
                          "/monotone.txt 2>&1";
  const int status = std::system(cmd.c_str());
  const std::string out = slurp(dir + "/monotone.txt");
  INFO(out);
  CHECK(status == 0);
  CHECK_THAT(out, Catch::StartsWith("0 violations") || Catch::Contains("\n0 violations"));
}

TEST_CASE("flash on a 64x64 edge array does the softmax work derived by hand",
          "[cascade_search][monotone]") {
  // configs/sweeps/design.json's pair where more PEs cost cycles before Q K^T could be issued two key tiles
  // ahead: flash, LRA text at N = 4096 (d = 32, 2 heads a layer), edge with 8 KiB banks (the derivation
  // beside the online mapspace in mapper/cascade_search.cpp). The softmax unit (32 lanes, 32 exponentials a
  // cycle, latency 8) per block of m x p scores: online step 8 + mp/32 + m/32 + mp/32, rescale of O
  // (m x 32) 8 + m; per query tile one block without a rescale and one normalize, 8 + m/32 + m.
  //   32x32: m 32, p 256: 2 x 2048 x (521 + 40) - 2 x 128 x 40 + 2 x 128 x 41 = 2,298,112
  //   64x64: m 32, p 256 in two split-K runs of 8 key tiles (ahead 2; m 64, p 128 took 2,433,280): per
  //     query tile 16 steps of 521, 14 rescales of 40 (each run's first block has none), and the combine:
  //     a merge of the statistics (8 + m/32 + 2 m/32 = 11), both accumulators rescaled (2 x 40) and one
  //     normalize (41): 2 x 128 x (16 x 521 + 14 x 40 + 11 + 2 x 40 + 41) = 2,311,168.
  const std::string dir = temp_dir();
  const std::int64_t want[2] = {2 * 2048 * (521 + 40) - 2 * 128 * 40 + 2 * 128 * 41,
                                2 * 128 * (16 * 521 + 14 * 40 + 11 + 2 * 40 + 41)};
  CHECK(want[0] == 2298112);
  CHECK(want[1] == 2311168);
  int i = 0;
  for (int side : {32, 64}) {
    const std::string out = dir + "/flash" + std::to_string(side);
    const CliResult r = run_cli("run --hw edge --model lra-text --seq-len 4096 --variant flash --set /array/rows=" +
                                std::to_string(side) + " --set /array/cols=" + std::to_string(side) +
                                " --set /sram/bytes_per_bank=8192 --out " + out);
    INFO(r.out << r.err);
    REQUIRE(r.status == 0);
    const Json rep = Json::parse(slurp(out + "/report.json"));
    for (int layer = 0; layer < 2; ++layer)
      CHECK(rep["layers"][layer]["ops"]["softmax"]["softmax_busy_cycles"].get<std::int64_t>() == want[i]);
    ++i;
  }
}

namespace {

// The edge preset with another array side and bank size (16 banks, interleaved in 64 B stripes).
HwConfig edge_with(int side, std::int64_t bank_bytes) {
  Json doc = Json::parse(find_preset("edge"));
  doc["array"]["rows"] = side;
  doc["array"]["cols"] = side;
  doc["sram"]["bytes_per_bank"] = bank_bytes;
  return parse_hw_config(doc, "edge");
}

}  // namespace

TEST_CASE("the capacity ladder of a larger SRAM holds every rung of a smaller one's, down to 1 B",
          "[cascade_search][monotone]") {
  // 2 MiB: 1 B, 2 B, ..., 1 MiB, 2 MiB (2^0 ... 2^21, 22 rungs); 8 MiB: the same and 4 MiB, 8 MiB.
  const std::vector<std::uint64_t> a = ladder_budgets(std::uint64_t(2) << 20), b = ladder_budgets(std::uint64_t(8) << 20);
  REQUIRE(a.size() == 22);
  REQUIRE(b.size() == 24);
  CHECK(std::vector<std::uint64_t>(b.begin(), b.begin() + 22) == a);
  // 3 MiB: its halvings 3 x 2^19 ... 3 (20 rungs) and 1 (3 / 2), and the powers of two 2^0 ... 2^21
  // (22, 1 shared): 42 below the capacity; 2 MiB's ladder is among them.
  const std::vector<std::uint64_t> c = ladder_budgets(std::uint64_t(3) << 20);
  REQUIRE(c.size() == 43);
  CHECK(c.back() == (std::uint64_t(3) << 20));
  CHECK(c[c.size() - 2] == (std::uint64_t(2) << 20));
  CHECK(c[c.size() - 3] == (std::uint64_t(3) << 19));
  for (std::uint64_t x : a) CHECK(std::find(c.begin(), c.end(), x) != c.end());
}

TEST_CASE("unfused spilled on a 16x16 edge array: 512 KiB banks pick what 128 KiB banks pick (the ladder's rungs)",
          "[cascade_search][monotone]") {
  // configs/sweeps/design.json's pair (LRA text, N = 4096, d = 32, 2 heads a layer): with a ladder of 6
  // halvings, 2 MiB of SRAM (16 banks of 128 KiB) started its rung-by-rung picks at 32 KiB and 8 MiB at
  // 128 KiB, and the fewest-bytes rule took different paths: the larger design's scores group
  // (p 512, m 16, S in the accumulators) timed 400 cycles a layer slower than the smaller one's (p 256,
  // m 32), for 8 % fewer bytes, and the run took 24,658,918 cycles against 24,658,118. Both ladders now go
  // down to 1 B and share every rung below 2 MiB: the same picks, the same cycles.
  const Cascade c = vanilla(4096, 32, false);
  CascadeSearchSpec spec;
  spec.structures = {CascadeStructure::Spilled};
  spec.instances = 2;
  MapperOptions opt;
  const HwConfig small = edge_with(16, 131072), large = edge_with(16, 524288);
  const CascadePick ps = search_cascade(c, small, std::uint64_t(small.sram.total_bytes()), spec, opt, "L0.attention");
  const CascadePick pl = search_cascade(c, large, std::uint64_t(large.sram.total_bytes()), spec, opt, "L0.attention");
  CHECK(pl.cycles <= ps.cycles);
  REQUIRE(ps.mapping.groups.size() == pl.mapping.groups.size());
  for (std::size_t g = 0; g < ps.mapping.groups.size(); ++g) {
    INFO("group " << g);
    REQUIRE(ps.mapping.groups[g].loops.size() == pl.mapping.groups[g].loops.size());
    for (std::size_t i = 0; i < ps.mapping.groups[g].loops.size(); ++i) {
      CHECK(ps.mapping.groups[g].loops[i].rank == pl.mapping.groups[g].loops[i].rank);
      CHECK(ps.mapping.groups[g].loops[i].tile == pl.mapping.groups[g].loops[i].tile);
    }
  }
  // The whole runs (the design sweep's points).
  std::int64_t cycles[2] = {0, 0};
  int i = 0;
  const std::string dir = temp_dir();
  for (int bank : {131072, 524288}) {
    const std::string out = dir + "/unfused16_" + std::to_string(bank);
    const CliResult r = run_cli("run --hw edge --model lra-text --seq-len 4096 --variant unfused --set /array/rows=16 "
                                "--set /array/cols=16 --set /sram/bytes_per_bank=" + std::to_string(bank) + " --out " + out);
    INFO(r.out << r.err);
    REQUIRE(r.status == 0);
    cycles[i++] = Json::parse(slurp(out + "/report.json"))["cycles"].get<std::int64_t>();
  }
  CHECK(cycles[1] <= cycles[0]);
}

TEST_CASE("flash on a 64x64 edge array: the 32x32 array's pick is among its candidates; Q K^T two key tiles ahead",
          "[cascade_search][monotone]") {
  // The design sweep's flash pair (edge, 8 KiB banks: 128 KiB of SRAM, 64 KiB of accumulators; LRA text,
  // N = 4096, d = 32, 2 heads a layer). The 64x64 design's mapspace holds the 32x32 design's mapping
  // (m 32, p 256, S in both accumulator slots): a tile smaller than the array runs on it with fewer
  // PEs busy, each fold timed on the whole array (array_timing.h, SCALE-Sim's convention). Its GEMMs:
  //   Q K^T (32 x 32 x 256): 32x32: F = 8, every 32 cycles: 7 x 32 + 32 + 32 + 32 - 2 = 318;
  //                          64x64: F = 4, every max(32, 64) = 64: 3 x 64 + 64 + 64 + 32 - 2 = 350;
  //   P V   (32 x 256 x 32): one fold, 32 + 32 + 256 - 2 = 318 against 64 + 64 + 256 - 2 = 382.
  // In the default issue order (ahead 1) the lowering issues per key block b: Q K^T(b+1) (lookahead), then the online step(b) (521 cycles on
  // the softmax unit), the rescale of O(b) (40), P V(b). With E_b the end of rescale(b), P V(b) streams
  // from E_b; Q K^T(b+2), behind it on the array, is done X later: P V's stream 256, the shadow
  // accumulators' wait max(0, R - 32) before a 32-long stream after a 256-long one, then Q K^T's folds:
  //   32x32: X = 256 + 0 + 7 x 32 + 32 + 32 + 32 - 2 = 574;  64x64: X = 256 + 32 + 3 x 64 + 64 + 64 + 32 - 2 = 638.
  // step(b+2) starts at max(E_(b+1), E_b + X), so with X > 561 the period P is E_(b+2) - E_(b+1) =
  // E_b + X + 561 - E_(b+1): P = (X + 561) / 2, 567.5 on 32x32 and 599.5 on 64x64, with the array busy
  // throughout: per layer (2 heads x 128 query tiles x 16 key tiles = 4096 blocks) Q K^T and P V keep
  // it busy 4096 x 567.5 = 2,324,480 and 4096 x 599.5 = 2,455,552 cycles. So in that order the 64x64 array
  // times that mapping slower than m 64, p 128 (softmax-bound at 594 a block), and both slower than the
  // 32x32 array: the loop through the softmax unit exposes the larger array's fill and drain. Issued two
  // key tiles ahead (below) the loop holds two P V and no Q K^T latency, and the DRAM binds.
  CHECK(gemm_cycles(32, 32, Dataflow::OS, TimingMode::Overlapped, {32, 32, 256}) == 7 * 32 + 32 + 32 + 32 - 2);
  CHECK(gemm_cycles(64, 64, Dataflow::OS, TimingMode::Overlapped, {32, 32, 256}) == 3 * 64 + 64 + 64 + 32 - 2);
  CHECK(gemm_cycles(32, 32, Dataflow::OS, TimingMode::Overlapped, {32, 256, 32}) == 32 + 32 + 256 - 2);
  CHECK(gemm_cycles(64, 64, Dataflow::OS, TimingMode::Overlapped, {32, 256, 32}) == 64 + 64 + 256 - 2);
  const Cascade c = vanilla(4096, 32, false);
  CascadeSearchSpec spec;
  spec.structures = {CascadeStructure::Online};
  spec.instances = 2;
  MapperOptions opt;
  const HwConfig hw32 = edge_with(32, 8192), hw64 = edge_with(64, 8192);
  const std::uint64_t cap = std::uint64_t(hw32.sram.total_bytes());
  REQUIRE(cap == std::uint64_t(hw64.sram.total_bytes()));
  const CascadePick p32 = search_cascade(c, hw32, cap, spec, opt, "L0.attention");
  REQUIRE(p32.mapping.groups.size() == 1);
  const std::string dump32 = cascade::mapping_to_json(c, p32.mapping).dump();
  INFO(dump32);
  REQUIRE(p32.mapping.groups[0].loops.size() == 2);
  CHECK(p32.mapping.groups[0].loops[0].rank == c.desc.rank_index("m"));
  CHECK(p32.mapping.groups[0].loops[0].tile == 32);
  CHECK(p32.mapping.groups[0].loops[1].rank == c.desc.rank_index("p"));
  CHECK(p32.mapping.groups[0].loops[1].tile == 256);
  bool found = false;
  for (const CascadeCandidate& x : cascade_candidates(c, hw64, cap, CascadeStructure::Online, spec, MapperEffort::Default))
    found |= cascade::mapping_to_json(c, x.mapping).dump() == dump32;
  CHECK(found);
  const double t64 = time_cascade_group(c, p32.mapping, 0, hw64, cap, 2);
  const CascadePick p64 = search_cascade(c, hw64, cap, spec, opt, "L0.attention");
  CHECK(p64.cycles <= t64);
  // Both picks issue Q K^T two key tiles ahead (mapping.h, ahead 2; derived below), the 64x64 one with two
  // split-K runs, and both are bound by the DRAM: per head K and V once per query tile (128 x 2 x 4096 x 32
  // x 2 B = 64 MiB), Q and O once (2 x 256 KiB), two heads: 135,266,304 B at 57.11 B a cycle, 2,368,522
  // cycles (the 64x64 pick 0.05 % above it, the 32x32 one 0.04 %); the whole run on 64x64 then takes
  // fewer cycles (its GEMM phases are shorter; the design sweep's check).
  CHECK(p32.mapping.groups[0].ahead == 2);
  CHECK(p64.mapping.groups[0].ahead == 2);
  CHECK(p64.mapping.groups[0].splits == 2);
  const double dram_bound = (2.0 * 128 * 2 * 4096 * 32 * 2 + 2 * 2 * 4096 * 32 * 2) / 57.11;
  CHECK(std::abs(dram_bound - 2368522) < 1);
  for (double t : {p32.cycles, p64.cycles}) {
    CHECK(t >= dram_bound);
    CHECK(t < dram_bound * 1.001);
  }
  // The accelerator: the 32x32 design as picked, and the 64x64 design with the 32x32 design's attention
  // mapping (its GEMM phases picked for 64x64).
  const std::string dir = temp_dir();
  const std::string set = " --set /sram/bytes_per_bank=8192 --model lra-text --seq-len 4096 --variant flash --hw edge";
  const CliResult m = run_cli("run --set /array/rows=32 --set /array/cols=32" + set + " --emit mapping");
  REQUIRE(m.status == 0);
  Json mapping = Json::parse(m.out);
  Json attention = Json::object();
  for (const auto& [name, op] : mapping["ops"].items())
    if (name.find("attention") != std::string::npos) attention[name] = op;
  // The default issue order (ahead 1), whose loop through the softmax unit is derived above.
  for (auto& [name, op] : attention.items()) {
    REQUIRE(op["mapping"]["groups"][0]["ahead"].get<int>() == 2);
    op["mapping"]["groups"][0].erase("ahead");
  }
  mapping["ops"] = attention;
  const std::string file = write_temp("flash32-attention.json", mapping.dump());
  const double period[2] = {(256 + 0 + 7 * 32 + 32 + 32 + 32 - 2 + 561) / 2.0, (256 + 32 + 3 * 64 + 64 + 64 + 32 - 2 + 561) / 2.0};
  CHECK(period[0] == 567.5);
  CHECK(period[1] == 599.5);
  std::int64_t cycles[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    const std::string side = i ? "64" : "32", out = dir + "/flash" + side;
    const CliResult r = run_cli("run --set /array/rows=" + side + " --set /array/cols=" + side + set + " --mapping " +
                                file + " --out " + out);
    INFO(r.out << r.err);
    REQUIRE(r.status == 0);
    const Json rep = Json::parse(slurp(out + "/report.json"));
    cycles[i] = rep["cycles"].get<std::int64_t>();
    for (int layer = 0; layer < 2; ++layer) {
      const Json& ops = rep["layers"][layer]["ops"];
      const double busy = double(ops["qk"]["array_busy_cycles"].get<std::int64_t>() +
                                 ops["pv"]["array_busy_cycles"].get<std::int64_t>());
      INFO(side << "x" << side << " layer " << layer << ": Q K^T and P V busy " << busy);
      CHECK(std::abs(busy / (4096 * period[i]) - 1) < 2e-4);
      CHECK(ops["softmax"]["softmax_busy_cycles"].get<std::int64_t>() == 2298112);  // the test above
    }
  }
  // More PEs, the same attention mapping: slower as a whole, by more than the GEMM phases gain.
  CHECK(cycles[1] > cycles[0]);
  // Ahead 2 (the picks'): Q K^T(b+2) is issued after softmax step(b), which frees its S slot, and before
  // P V(b); step(b)'s 521 cycles end at F_b. The loop is then F_b -> Q K^T(b+2) streams (the array is free:
  // P V(b-1) started streaming before) -> P V(b) streams behind its folds (chained: 7 x 32 + 32 = 256 on
  // 32x32, 3 x 64 + 32 = 224 on 64x64) -> P V(b) done (+ 318, + 382) -> rescale(b+1) (40, on O after
  // P V(b)) -> step(b+2) (521): two blocks per F_(b+2) - F_b = 521 + 256 + 318 + 40 = 1135 on 32x32 (567.5
  // a block, the period of ahead 1) and 521 + 224 + 382 + 40 = 1167 on 64x64 (583.5 instead of 599.5). A
  // query tile's normalise runs after the next tile's first step (lower.cpp), so the tiles follow each
  // other without a gap: the attention spans 4096 x 583.5 = 2,390,016 cycles a layer on 64x64.
  CHECK((521 + 224 + 382 + 40) / 2.0 == 583.5);
  mapping = Json::parse(m.out);
  attention = Json::object();
  for (const auto& [name, op] : mapping["ops"].items())
    if (name.find("attention") != std::string::npos) attention[name] = op;
  mapping["ops"] = attention;
  const std::string file2 = write_temp("flash32-attention-ahead.json", mapping.dump());
  const CliResult r = run_cli("run --set /array/rows=64 --set /array/cols=64" + set + " --mapping " + file2 + " --out " +
                              dir + "/flash64ahead");
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  const Json rep = Json::parse(slurp(dir + "/flash64ahead/report.json"));
  for (int layer = 0; layer < 2; ++layer) {
    const Json& qk = rep["layers"][layer]["ops"]["qk"];
    const double span = double(qk["end_cycle"].get<std::int64_t>() - qk["start_cycle"].get<std::int64_t>());
    INFO("layer " << layer << ": Q K^T from first to last " << span);
    CHECK(std::abs(span / (4096 * 583.5) - 1) < 2e-4);
  }
  CHECK(rep["cycles"].get<std::int64_t>() < cycles[1]);
  // The two designs as picked: more PEs, fewer cycles.
  std::int64_t picked[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    const std::string side = i ? "64" : "32", out = dir + "/picked" + side;
    const CliResult rr = run_cli("run --set /array/rows=" + side + " --set /array/cols=" + side + set + " --out " + out);
    INFO(rr.out << rr.err);
    REQUIRE(rr.status == 0);
    picked[i] = Json::parse(slurp(out + "/report.json"))["cycles"].get<std::int64_t>();
  }
  CHECK(picked[1] <= picked[0]);
}
