# covship-shim-static: the same shim, linked statically against musl, for
# COPY --from= into distroless or Alpine images (no runtime dependencies).
#
# musl-gcc cannot use the glibc-built libcjson, and Debian ships no
# libcjson.a, so cJSON.c is compiled from Debian's source package, fetched
# once into the build directory (fetch-cjson-source.sh). Offline, or without
# musl-tools/dpkg-dev, the static target is skipped with a warning.
set(COVSHIP_SHIM_STATIC "" CACHE INTERNAL "path of covship-shim-static, empty when not built")
if(NOT COVSHIP_STATIC_SHIM)
  return()
endif()

find_program(MUSL_GCC musl-gcc)
if(NOT MUSL_GCC)
  message(WARNING "covship-shim-static skipped: musl-gcc not found (apt-get install musl-tools)")
  return()
endif()

set(cjson_root ${CMAKE_BINARY_DIR}/cjson-source)
file(GLOB cjson_c ${cjson_root}/src/cjson-*/cJSON.c)
if(NOT cjson_c)
  message(STATUS "Fetching Debian's cJSON source for covship-shim-static")
  execute_process(
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/fetch-cjson-source.sh ${cjson_root}
    RESULT_VARIABLE fetch_rc OUTPUT_VARIABLE fetch_out ERROR_VARIABLE fetch_out
    TIMEOUT 300)
  file(GLOB cjson_c ${cjson_root}/src/cjson-*/cJSON.c)
  if(NOT cjson_c)
    string(STRIP "${fetch_out}" fetch_out)
    message(WARNING "covship-shim-static skipped: cannot get Debian's cJSON source "
                    "(offline? needs dpkg-dev): ${fetch_out}")
    return()
  endif()
endif()
list(GET cjson_c 0 cjson_c)
get_filename_component(cjson_dir ${cjson_c} DIRECTORY)

# musl-gcc must not see /usr/include (glibc); give it only <cjson/cJSON.h>.
set(musl_inc ${CMAKE_CURRENT_BINARY_DIR}/musl-include)
configure_file(${cjson_dir}/cJSON.h ${musl_inc}/cjson/cJSON.h COPYONLY)

set(static_out ${COVSHIP_BIN_DIR}/covship-shim-static)
set(static_sources ${CMAKE_CURRENT_SOURCE_DIR}/main.c ${COVSHIP_SHIM_LIB_SOURCES}
                   ${COVSHIP_COMMON_SOURCES})
set(static_flags -std=c11 -D_GNU_SOURCE "-DCOVSHIP_VERSION=\"${PROJECT_VERSION}\""
                 -Os -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables
                 -I${musl_inc} -I${PROJECT_SOURCE_DIR}/lib/common -I${CMAKE_CURRENT_SOURCE_DIR})
set(our_warnings -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes
                 -Wmissing-prototypes)
add_custom_command(
  OUTPUT ${static_out}
  # cJSON is not ours: compiled without our -Werror.
  COMMAND ${MUSL_GCC} ${static_flags} -c ${cjson_c} -o ${CMAKE_CURRENT_BINARY_DIR}/cJSON-musl.o
  # noseparate-code, norelro: no page-aligned padding between segments
  # (up to 4 KB each; a static binary's RELRO would guard a 24-byte GOT).
  COMMAND ${MUSL_GCC} ${static_flags} ${our_warnings} -static -s -Wl,--gc-sections
          -Wl,-z,noseparate-code -Wl,-z,norelro -Wl,--build-id=none
          ${static_sources} ${CMAKE_CURRENT_BINARY_DIR}/cJSON-musl.o -o ${static_out}
  DEPENDS ${static_sources} ${cjson_c}
  COMMENT "Building covship-shim-static with musl-gcc"
  VERBATIM)
add_custom_target(covship-shim-static ALL DEPENDS ${static_out})
install(PROGRAMS ${static_out} DESTINATION ${CMAKE_INSTALL_BINDIR})
set(COVSHIP_SHIM_STATIC ${static_out} CACHE INTERNAL "path of covship-shim-static, empty when not built")
