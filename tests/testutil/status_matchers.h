#pragma once
// ASSERT_OK / EXPECT_OK for Status and Result<T>: on failure they print the status message.

#include <gtest/gtest.h>

#include "server/common/status.h"

#define DIALKV_TESTUTIL_STATUS_OF(expr) ::dialkv::internal::ToStatus((expr))
#define ASSERT_OK(expr)                                            \
  do {                                                             \
    const ::dialkv::Status _s = DIALKV_TESTUTIL_STATUS_OF(expr);   \
    ASSERT_TRUE(_s.ok()) << #expr << " failed: " << _s.ToString(); \
  } while (false)
#define EXPECT_OK(expr)                                            \
  do {                                                             \
    const ::dialkv::Status _s = DIALKV_TESTUTIL_STATUS_OF(expr);   \
    EXPECT_TRUE(_s.ok()) << #expr << " failed: " << _s.ToString(); \
  } while (false)
// Asserts that a Status or Result carries `code` (a dialkv::Code).
#define ASSERT_CODE(expr, expected_code)                                             \
  do {                                                                               \
    const ::dialkv::Status _s = DIALKV_TESTUTIL_STATUS_OF(expr);                     \
    ASSERT_EQ(_s.code(), (expected_code)) << #expr << " returned " << _s.ToString(); \
  } while (false)
// Like ASSERT_CODE, but the test goes on.
#define EXPECT_CODE(expr, expected_code)                                             \
  do {                                                                               \
    const ::dialkv::Status _s = DIALKV_TESTUTIL_STATUS_OF(expr);                     \
    EXPECT_EQ(_s.code(), (expected_code)) << #expr << " returned " << _s.ToString(); \
  } while (false)
