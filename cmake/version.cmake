# Writes OUT (dialkv/version.h) from the project version and the source tree's git commit.
# Run at every build by the dialkv_version target; the file is rewritten only when its text
# changes, so a build after a new commit relinks what reports the version and nothing else.
# Inputs: -DVERSION=x.y.z -DSOURCE_DIR=... -DOUT=...
execute_process(
  COMMAND git -C "${SOURCE_DIR}" rev-parse --short=12 HEAD
  OUTPUT_VARIABLE commit
  OUTPUT_STRIP_TRAILING_WHITESPACE
  ERROR_QUIET
  RESULT_VARIABLE failed)
if(failed OR commit STREQUAL "")
  set(commit "unknown")  # Not a git checkout (a source archive).
else()
  execute_process(
    COMMAND git -C "${SOURCE_DIR}" status --porcelain --untracked-files=no
    OUTPUT_VARIABLE changes
    ERROR_QUIET)
  if(NOT changes STREQUAL "")
    string(APPEND commit "-modified")
  endif()
endif()
set(text "#pragma once
// Generated at build time by cmake/version.cmake: the release and the source it was built from.
#define DIALKV_VERSION \"${VERSION}\"
#define DIALKV_GIT_COMMIT \"${commit}\"
")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
