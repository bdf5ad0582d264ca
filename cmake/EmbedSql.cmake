# Embeds sql/migrations/*.sql into a generated C++ source so the programs carry their schema.
function(mp_embed_migrations out_var)
  file(GLOB sql_files CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/sql/migrations/*.sql)
  list(SORT sql_files)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/embedded_migrations.cpp)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DSQL_DIR=${CMAKE_SOURCE_DIR}/sql/migrations
            -P ${CMAKE_SOURCE_DIR}/cmake/EmbedSqlScript.cmake
    DEPENDS ${sql_files} ${CMAKE_SOURCE_DIR}/cmake/EmbedSqlScript.cmake
    COMMENT "Embedding SQL migrations")
  set(${out_var} ${out} PARENT_SCOPE)
endfunction()
