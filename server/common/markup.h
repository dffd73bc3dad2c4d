#pragma once
// Text made safe for HTML and SVG markup, shared by every page and chart the tools write (the
// harness report, the benchmark charts).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dialkv {

// `text` as HTML/SVG text or attribute content: & < > " ' escaped, invalid UTF-8 and control
// characters other than tab and newline replaced by U+FFFD. At most `max_chars` characters
// (code points) are kept; a cut is marked with an ellipsis.
std::string EscapeMarkup(std::string_view text, size_t max_chars = SIZE_MAX);

}  // namespace dialkv
