# The list of known referrer sources (search engines, social networks, webmail), generated at
# build time from Debian's ruby-referer-parser (Snowplow's referer-parser data, Apache-2.0) into
# a C++ table compiled into mp_core. MP_REFERERS_JSON names another copy of referers.json.
set(MP_REFERERS_JSON "" CACHE FILEPATH
    "referer-parser's referers.json (default: the one of Debian's ruby-referer-parser)")

function(mp_referrer_sources out_var)
  set(json "${MP_REFERERS_JSON}")
  if(NOT json)
    file(GLOB candidates
         /usr/share/rubygems-integration/all/gems/referer-parser-*/data/referers.json)
    list(SORT candidates)
    list(LENGTH candidates n)
    if(n GREATER 0)
      math(EXPR last "${n} - 1")
      list(GET candidates ${last} json)
    endif()
  endif()
  if(NOT json OR NOT EXISTS "${json}")
    message(FATAL_ERROR
      "referers.json not found: install Debian's ruby-referer-parser "
      "(apt-get install ruby-referer-parser) or pass -DMP_REFERERS_JSON=/path/to/referers.json")
  endif()
  set(out ${CMAKE_CURRENT_BINARY_DIR}/referrer_table.inc)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DIN=${json} -DOUT=${out}
            -P ${CMAKE_SOURCE_DIR}/cmake/ReferrerSourcesScript.cmake
    DEPENDS ${json} ${CMAKE_SOURCE_DIR}/cmake/ReferrerSourcesScript.cmake
    COMMENT "Generating the referrer source table from ${json}")
  set(${out_var} ${out} PARENT_SCOPE)
endfunction()
