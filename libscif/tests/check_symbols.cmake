# SPDX-License-Identifier: MPL-2.0
#
# Compares what LIBRARY exports (names and symbol versions, from nm) with
# SYMBOLS, the reviewed list in dpkg-gensymbols' format, and checks that no
# symbol there is newer than the library (VERSION).
#
#   cmake -DNM=nm -DLIBRARY=libscif.so -DSYMBOLS=abi/libscif.symbols
#         -DVERSION=0.6.0 -P check_symbols.cmake
foreach(var IN ITEMS NM LIBRARY SYMBOLS VERSION)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_symbols.cmake needs -D${var}=...")
  endif()
endforeach()

execute_process(
  COMMAND ${NM} -D --defined-only --with-symbol-versions ${LIBRARY}
  OUTPUT_VARIABLE nm_output RESULT_VARIABLE nm_status)
if(NOT nm_status EQUAL 0)
  message(FATAL_ERROR "${NM} failed on ${LIBRARY}")
endif()

# "ADDRESS TYPE NAME[@[@]VERSION]"; a version node itself is "0 A NODE".
set(exported)
string(REPLACE "\n" ";" nm_lines "${nm_output}")
foreach(line IN LISTS nm_lines)
  if(line MATCHES "^[0-9a-f]+ A ([^@ ]+)$")
    list(APPEND exported "${CMAKE_MATCH_1}@${CMAKE_MATCH_1}")
  elseif(line MATCHES "^[0-9a-f]+ [A-Za-z] ([^@ ]+)@@?([^ ]+)$")
    list(APPEND exported "${CMAKE_MATCH_1}@${CMAKE_MATCH_2}")
  elseif(line MATCHES "^[0-9a-f]+ [A-Za-z] ([^ ]+)$")
    list(APPEND exported "${CMAKE_MATCH_1}") # no version at all
  endif()
endforeach()

# " NAME@VERSION MINVER" under the "SONAME PACKAGE" line; "#" comments.
file(STRINGS ${SYMBOLS} symbol_lines)
set(reviewed)
set(too_new)
foreach(line IN LISTS symbol_lines)
  if(line MATCHES "^ ([^ ]+) ([^ ]+)$")
    list(APPEND reviewed "${CMAKE_MATCH_1}")
    if(CMAKE_MATCH_2 VERSION_GREATER VERSION)
      list(APPEND too_new "${CMAKE_MATCH_1} (${CMAKE_MATCH_2})")
    endif()
  endif()
endforeach()

set(added ${exported})
list(REMOVE_ITEM added ${reviewed})
set(removed ${reviewed})
list(REMOVE_ITEM removed ${exported})
if(added OR removed OR too_new)
  list(JOIN added "\n  " added)
  list(JOIN removed "\n  " removed)
  list(JOIN too_new "\n  " too_new)
  message(FATAL_ERROR
    "libscif's ABI differs from ${SYMBOLS}.\n"
    "Exported but not listed:\n  ${added}\n"
    "Listed but not exported:\n  ${removed}\n"
    "Listed as newer than the library (${VERSION}):\n  ${too_new}\n"
    "An ABI change is deliberate: update the list and libscif's version "
    "in the same commit (a removed symbol or a changed version breaks "
    "every program linked against the library).")
endif()
list(LENGTH exported count)
message(STATUS "${count} symbols and versions as reviewed in ${SYMBOLS}")
