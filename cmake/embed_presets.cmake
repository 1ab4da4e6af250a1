# Writes a C++ source that holds every DIR/*.json as a raw string, keyed by file stem, returned by
# the function FUNC (declared in config/presets.h).
file(GLOB files ${DIR}/*.json)
list(SORT files)
set(body "// Generated from ${DIR}/*.json by cmake/embed_presets.cmake. Do not edit.\n")
string(APPEND body "#include \"config/presets.h\"\n\nnamespace attnsim {\n\nconst std::vector<EmbeddedPreset>& ${FUNC}() {\n  static const std::vector<EmbeddedPreset> presets = {\n")
foreach(f ${files})
  get_filename_component(stem ${f} NAME_WE)
  file(READ ${f} text)
  string(APPEND body "    {\"${stem}\", R\"attnsim_json(${text})attnsim_json\"},\n")
endforeach()
string(APPEND body "  };\n  return presets;\n}\n\n}  // namespace attnsim\n")
file(WRITE ${OUT}.tmp "${body}")
configure_file(${OUT}.tmp ${OUT} COPYONLY)
