// attnsim schema: print the JSON Schema (draft 2020-12) of an input format, recorded from the
// format's own validator (config/schema_recorder.h), for editors and for other tools' checks.
#include <iostream>

#include "cli/cli_common.h"
#include "common/errors.h"
#include "config/config_schema.h"
#include "mapper/mapping_schema.h"
#include "sweep/sweep_schema.h"

namespace attnsim::cli {

namespace {

struct Format {
  const char* name;
  Json (*schema)();
  const char* what;
};

const Format kFormats[] = {
    {"hw", hw_config_schema, "hardware config (configs/presets/*.json)"},
    {"model", model_config_schema, "model (models/*.json)"},
    {"sweep", sweep_spec_schema, "sweep spec (configs/sweeps/*.json)"},
    {"mapping", mapping_schema, "mapping file (--emit mapping, --mapping)"},
    {"cascade-mapping", cascade_mapping_schema, "a cascade variant's \"mapping\" file"},
    {"energy", energy_table_schema, "energy table (configs/energy/*.json)"},
    {"dram", dram_device_schema, "DRAM device (configs/dram/*.json)"},
};

}  // namespace

int cmd_schema(const Args& args) {
  po::options_description opts("options");
  std::string format;
  std::string formats_help = "the input format:";
  for (const Format& f : kFormats) formats_help += std::string("\n  ") + f.name + ": " + f.what;
  opts.add_options()("help,h", "this text")("format", po::value(&format), formats_help.c_str());
  po::positional_options_description pos;
  pos.add("format", 1);
  po::variables_map vm;
  if (!parse_options("schema", "hw|model|sweep|mapping|cascade-mapping|energy|dram\n\n"
                     "Prints the JSON Schema (draft 2020-12) of an input format on stdout. It is recorded from the\n"
                     "validator attnsim itself applies (types, ranges, choices, required and known keys), with a\n"
                     "description and unit per key; rules across fields are checked by attnsim only. Point an\n"
                     "editor at it: attnsim schema hw > attnsim-hw.schema.json, then a \"$schema\" key naming that\n"
                     "file in a config, model or sweep spec, or (every format) VS Code's json.schemas setting\n"
                     "(README.md).",
                     opts, &pos, args, vm))
    return 0;
  std::string names;
  for (const Format& f : kFormats) {
    names += (names.empty() ? "" : ", ") + std::string(f.name);
    if (format != f.name) continue;
    std::cout << f.schema().dump(2) << "\n";
    return 0;
  }
  if (format.empty()) throw UserError("name a format (" + names + ")");
  throw UserError("unknown format \"" + format + "\" (formats: " + names + ")");
}

}  // namespace attnsim::cli
