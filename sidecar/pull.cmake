# `covship pull` (sidecar/pull*.c), included by sidecar/CMakeLists.txt once
# the `covship` target exists. Needs libarchive (extraction), expat (reading
# the totals of coverage.xml) and libcrypto (SHA-256).
if(NOT TARGET PkgConfig::PULL_LIBARCHIVE)
  pkg_check_modules(PULL_LIBARCHIVE REQUIRED IMPORTED_TARGET libarchive)
endif()
if(NOT TARGET PkgConfig::PULL_EXPAT)
  pkg_check_modules(PULL_EXPAT REQUIRED IMPORTED_TARGET expat)
endif()
find_package(OpenSSL REQUIRED COMPONENTS Crypto)

target_sources(covship PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/pull.c
  ${CMAKE_CURRENT_LIST_DIR}/pull_source.c
  ${CMAKE_CURRENT_LIST_DIR}/pull_source_file.c
  ${CMAKE_CURRENT_LIST_DIR}/pull_source_s3.c
  ${CMAKE_CURRENT_LIST_DIR}/pull_extract.c
  ${CMAKE_CURRENT_LIST_DIR}/pull_fs.c
  ${CMAKE_CURRENT_LIST_DIR}/pull_spawn.c
  ${CMAKE_CURRENT_LIST_DIR}/pull_combine.c
  ${CMAKE_CURRENT_LIST_DIR}/pull_report.c)
target_link_libraries(covship PRIVATE PkgConfig::PULL_LIBARCHIVE PkgConfig::PULL_EXPAT
                      OpenSSL::Crypto)

# The s3:// source needs the S3 client (s3_list_objects, s3_get_objects):
# enabled as soon as the covship_s3 library compiles a file defining them,
# so the tree builds before and after the S3 module lands.
set(COVSHIP_PULL_S3 OFF)
if(TARGET covship_s3)
  get_target_property(_pull_s3_srcs covship_s3 SOURCES)
  get_target_property(_pull_s3_dir covship_s3 SOURCE_DIR)
  foreach(_f IN LISTS _pull_s3_srcs)
    if(NOT IS_ABSOLUTE "${_f}")
      set(_f "${_pull_s3_dir}/${_f}")
    endif()
    if(EXISTS "${_f}")
      file(STRINGS "${_f}" _hit REGEX "^int s3_get_objects\\(")
      if(_hit)
        set(COVSHIP_PULL_S3 ON)
      endif()
    endif()
  endforeach()
endif()
if(COVSHIP_PULL_S3)
  set_property(SOURCE ${CMAKE_CURRENT_LIST_DIR}/pull_source_s3.c APPEND PROPERTY
               COMPILE_DEFINITIONS COVSHIP_PULL_S3)
  target_link_libraries(covship PRIVATE covship_s3)
else()
  message(STATUS "covship pull: no S3 client in covship_s3 yet, s3:// sources disabled")
endif()
