# The .deb packages, made by cpack from a build directory (scripts/package.sh):
#   dialkv-server   dialkv-server, dialkv, dialkv-jepsen; the systemd unit dialkv.service (user
#                   dialkv, made by postinst) and /etc/dialkv/dialkv.toml (loopback only, data in
#                   /var/lib/dialkv, client tokens required: postinst makes the token secret)
#   libdialkv-dev   the client library: headers, static libraries, CMake package, dialkv.pc
# Depends name Debian 12's runtime packages (the shared libraries the binaries link).
if(DIALKV_CLIENT_ONLY)
  return()  # The packages hold the server; package a full build.
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME dialkv)
set(CPACK_PACKAGE_VENDOR "dialkv")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "dialkv maintainers <dialkv@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Replicated key-value store with CP and AP operations")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL bin service dev)
set(CPACK_COMPONENTS_GROUPING ONE_PER_GROUP)
set(CPACK_COMPONENT_BIN_GROUP server)
set(CPACK_COMPONENT_SERVICE_GROUP server)
set(CPACK_COMPONENT_DEV_GROUP dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION database)

set(CPACK_DEBIAN_SERVER_PACKAGE_NAME dialkv-server)
set(CPACK_DEBIAN_SERVER_DESCRIPTION
    "dialkv replicated key-value store: server, CLI and partition-test harness\n\
dialkv-server runs as the systemd service dialkv.service (user dialkv, configuration\n\
/etc/dialkv/dialkv.toml, data in /var/lib/dialkv); dialkv is the command-line client.")
set(CPACK_DEBIAN_SERVER_PACKAGE_DEPENDS
    "libc6, libgcc-s1, libstdc++6, librocksdb7.8, libprotobuf32, libspdlog1.10, libfmt9, libxxhash0, \
libssl3, libjwt0, adduser")
set(CPACK_DEBIAN_SERVER_PACKAGE_SECTION database)
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA
    "${PROJECT_SOURCE_DIR}/scripts/deb/postinst;${PROJECT_SOURCE_DIR}/scripts/deb/prerm;${PROJECT_SOURCE_DIR}/scripts/deb/postrm;${PROJECT_SOURCE_DIR}/scripts/deb/conffiles")
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libdialkv-dev)
set(CPACK_DEBIAN_DEV_DESCRIPTION
    "dialkv C++20 client library (static) and headers\n\
find_package(dialkv) gives the target dialkv::client; pkg-config --cflags --libs dialkv.")
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "libasio-dev, libprotobuf-dev, libssl-dev, libspdlog-dev, libfmt-dev")
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)

include(CPack)
