# Compiler warnings applied to every MetricPulse target through mp_warnings.
add_library(mp_warnings INTERFACE)
target_compile_options(mp_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Woverloaded-virtual -Wconversion
  -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
if(MP_WERROR)
  target_compile_options(mp_warnings INTERFACE -Werror)
endif()
