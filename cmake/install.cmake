# Install rules (`cmake --install BUILD [--prefix DIR]`), by component:
#   dev      the client library: public headers, the static libraries it is made of, the CMake
#            package (find_package(dialkv) gives dialkv::client) and dialkv.pc (pkg-config)
#   bin      dialkv-server, dialkv, dialkv-jepsen (dialkv only, in a client-only build)
#   bench    dialkv-bench, when built
#   service  the systemd unit and the default configuration of the dialkv-server package:
#            absolute paths (/etc, /lib/systemd), so installed only when asked for by name
#            (--component service) and by cpack.
include(CMakePackageConfigHelpers)
set(DIALKV_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/dialkv)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/client/include/dialkv
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev
        FILES_MATCHING PATTERN "*.h")
# dialkv::client is what programs link; it brings dialkv::wire, dialkv::base and dialkv::proto.
set_target_properties(dialkv_wire PROPERTIES EXPORT_NAME wire)
set_target_properties(dialkv_base PROPERTIES EXPORT_NAME base)
set_target_properties(dialkv_proto PROPERTIES EXPORT_NAME proto)
install(TARGETS dialkv_client dialkv_wire dialkv_base dialkv_proto
        EXPORT dialkvTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT dialkvTargets NAMESPACE dialkv:: DESTINATION ${DIALKV_CMAKE_DIR} COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/dialkvConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/dialkvConfig.cmake
                              INSTALL_DESTINATION ${DIALKV_CMAKE_DIR})
# 0.x releases promise nothing across minor versions: SameMinorVersion.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/dialkvConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/dialkvConfig.cmake ${PROJECT_BINARY_DIR}/dialkvConfigVersion.cmake
        DESTINATION ${DIALKV_CMAKE_DIR} COMPONENT dev)

# dialkv.pc finds the prefix from its own place (${pcfiledir}), so the installed tree can move.
set(DIALKV_PC_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
file(RELATIVE_PATH DIALKV_PC_TO_PREFIX /root/${DIALKV_PC_DIR} /root)
string(REGEX REPLACE "/$" "" DIALKV_PC_TO_PREFIX "${DIALKV_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/dialkv.pc.in ${PROJECT_BINARY_DIR}/dialkv.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/dialkv.pc DESTINATION ${DIALKV_PC_DIR} COMPONENT dev)

install(TARGETS dialkv RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT bin)
if(NOT DIALKV_CLIENT_ONLY)
  install(TARGETS dialkv-server dialkv-jepsen RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
          COMPONENT bin)
  # The server package's documentation: installing, and every flag of the configuration file.
  install(FILES ${PROJECT_SOURCE_DIR}/docs/install.md
                ${PROJECT_SOURCE_DIR}/scripts/dialkv-server.example.toml
          DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/dialkv-server COMPONENT bin)
  install(FILES ${PROJECT_SOURCE_DIR}/scripts/deb/dialkv.service
          DESTINATION /lib/systemd/system COMPONENT service EXCLUDE_FROM_ALL)
  install(FILES ${PROJECT_SOURCE_DIR}/scripts/deb/dialkv.toml
          DESTINATION /etc/dialkv COMPONENT service EXCLUDE_FROM_ALL)
endif()
if(TARGET dialkv-bench)
  install(TARGETS dialkv-bench RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT bench)
endif()
