# Installs libzmq's staged files so that the prefix works wherever it is
# moved: the pkg-config file and the CMake package name no path of the
# build machine, and the CMake package finds libscif as SCIF::scif (the
# package libscif installs beside it) instead of linking the build tree.
# Run by cmake --install (see CMakeLists.txt) with SCIF_ZMQ_STAGE (libzmq's
# staged install), SCIF_ZMQ_LIBDIR (relative to the prefix) and
# SCIF_ZMQ_BUILD_PATHS (paths that must not survive) set, and
# SCIF_ZMQ_NO_SYMLINKS for a wheel.
set(_libdir "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}/${SCIF_ZMQ_LIBDIR}")

function(_scif_zmq_write path text)
  foreach(_build IN LISTS SCIF_ZMQ_BUILD_PATHS)
    string(FIND "${text}" "${_build}" _at)
    if(NOT _at EQUAL -1)
      message(FATAL_ERROR "${path} would name ${_build}, a path of this build")
    endif()
  endforeach()
  message(STATUS "Installing: ${path}")
  file(WRITE "${path}" "${text}")
endfunction()

# pkg-config: every directory relative to the .pc file.
file(READ "${SCIF_ZMQ_STAGE}/lib/pkgconfig/libzmq.pc" _pc)
string(REGEX REPLACE "prefix=[^\n]*" "prefix=\${pcfiledir}/../.." _pc "${_pc}")
string(REGEX REPLACE "exec_prefix=[^\n]*" "exec_prefix=\${prefix}" _pc "${_pc}")
string(REGEX REPLACE "libdir=[^\n]*" "libdir=\${prefix}/lib" _pc "${_pc}")
string(REGEX REPLACE "includedir=[^\n]*" "includedir=\${prefix}/include" _pc "${_pc}")
_scif_zmq_write("${_libdir}/pkgconfig/libzmq.pc" "${_pc}")

# CMake: libzmq's targets name libscif by the path it was linked from.
file(GLOB _package "${SCIF_ZMQ_STAGE}/lib/cmake/ZeroMQ/*.cmake")
foreach(_file IN LISTS _package)
  get_filename_component(_name "${_file}" NAME)
  file(READ "${_file}" _text)
  string(REGEX REPLACE "[^;\"<>:]*/libscif\\.so[^;\"<>]*" "SCIF::scif" _text "${_text}")
  if(_name STREQUAL "ZeroMQConfig.cmake")
    string(REPLACE
      "if(NOT TARGET libzmq AND NOT TARGET libzmq-static)"
      "# libzmq links libscif, whose package is installed beside this one.
if(NOT TARGET SCIF::scif)
  find_package(SCIF CONFIG REQUIRED PATHS \"\${CMAKE_CURRENT_LIST_DIR}/../SCIF\"
               NO_DEFAULT_PATH)
endif()

if(NOT TARGET libzmq AND NOT TARGET libzmq-static)"
      _text "${_text}")
  endif()
  if(SCIF_ZMQ_NO_SYMLINKS)
    string(REGEX REPLACE "libzmq\\.so\\.5\\.[0-9.]+" "libzmq.so.5" _text "${_text}")
  endif()
  _scif_zmq_write("${_libdir}/cmake/ZeroMQ/${_name}" "${_text}")
endforeach()

# A wheel holds no symbolic links: each would be one more copy of the
# library. There each library is its SONAME file alone, the name programs
# link with (-lzmq) a linker script that names it, as glibc's libc.so is,
# and the CMake packages point at the SONAME file.
if(SCIF_ZMQ_NO_SYMLINKS)
  foreach(_pair IN ITEMS "libzmq.so:libzmq.so.5" "libscif.so:libscif.so.0")
    string(REPLACE ":" ";" _pair "${_pair}")
    list(GET _pair 0 _linker_name)
    list(GET _pair 1 _soname)
    file(REAL_PATH "${_libdir}/${_soname}" _file)
    file(REMOVE "${_libdir}/${_soname}" "${_libdir}/${_linker_name}")
    file(RENAME "${_file}" "${_libdir}/${_soname}")
    _scif_zmq_write("${_libdir}/${_linker_name}"
                    "/* GNU ld script: link with ${_soname} */\nINPUT(${_soname})\n")
  endforeach()
  file(GLOB _scif_targets "${_libdir}/cmake/SCIF/SCIFTargets-*.cmake")
  foreach(_file IN LISTS _scif_targets)
    file(READ "${_file}" _text)
    string(REGEX REPLACE "libscif\\.so\\.0\\.[0-9.]+" "libscif.so.0" _text "${_text}")
    _scif_zmq_write("${_file}" "${_text}")
  endforeach()
endif()
