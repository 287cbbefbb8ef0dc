# packaging/install-unit.cmake - run by `cmake --install`: writes
# packaging/kevy-server.service into the systemd unit directory with the
# paths of the prefix being installed to (which `cmake --install --prefix`
# may change after configuration, hence a script and not configure_file).
#
# Set by the install(CODE) before it (CMakeLists.txt): KEVY_SRC_DIR,
# KEVY_BINDIR, KEVY_SYSCONFDIR, KEVY_UNITDIR (each relative to the prefix,
# or absolute).

function(kevy_full out dir)
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  elseif(dir STREQUAL "etc" AND CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    # GNUInstallDirs' rule: /usr's configuration lives in /etc.
    set(${out} "/etc" PARENT_SCOPE)
  else()
    set(${out} "${CMAKE_INSTALL_PREFIX}/${dir}" PARENT_SCOPE)
  endif()
endfunction()

kevy_full(bindir "${KEVY_BINDIR}")
kevy_full(sysconfdir "${KEVY_SYSCONFDIR}")
kevy_full(unitdir "${KEVY_UNITDIR}")

file(READ "${KEVY_SRC_DIR}/packaging/kevy-server.service" unit)
string(REPLACE "/usr/bin/kevy-server" "${bindir}/kevy-server" unit "${unit}")
string(REPLACE "/etc/kevy" "${sysconfdir}/kevy" unit "${unit}")

set(dest "$ENV{DESTDIR}${unitdir}")
message(STATUS "Installing: ${dest}/kevy-server.service")
file(MAKE_DIRECTORY "${dest}")
file(WRITE "${dest}/kevy-server.service" "${unit}")
