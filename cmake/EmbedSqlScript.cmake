# Script mode: writes OUT, a C++ file defining mp::db::embeddedMigrations() from SQL_DIR/*.sql.
# The directory is globbed here rather than passed as a list, which the shell would split.
file(GLOB FILES "${SQL_DIR}/*.sql")
list(SORT FILES)
set(body "// Generated from sql/migrations by cmake/EmbedSqlScript.cmake; do not edit.\n")
string(APPEND body "#include \"db/migrations.hpp\"\n\nnamespace mp::db {\n\n")
string(APPEND body "const std::vector<MigrationSource>& embeddedMigrations() {\n")
string(APPEND body "  static const std::vector<MigrationSource> kMigrations = {\n")
foreach(f IN LISTS FILES)
  get_filename_component(name "${f}" NAME)
  file(READ "${f}" content)
  # A raw string with a delimiter no migration will contain.
  string(APPEND body "    {\"${name}\", R\"mp_sql_embed(${content})mp_sql_embed\"},\n")
endforeach()
string(APPEND body "  };\n  return kMigrations;\n}\n\n}  // namespace mp::db\n")
file(WRITE "${OUT}.tmp" "${body}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
