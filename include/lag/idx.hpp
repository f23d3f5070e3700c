// IDX files (the MNIST format), raw or gzip-compressed.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "lag/dataset.hpp"

namespace lag {

// One IDX array: dims (e.g. {60000, 28, 28}) and the values converted to double, row-major.
struct IdxArray {
  std::vector<std::size_t> dims;
  std::vector<double> values;
};

// Reads an IDX file, raw or gzip-compressed (detected by the 1f 8b magic, not by the name).
// Element types: 0x08 ubyte, 0x09 sbyte, 0x0B short, 0x0C int, 0x0D float, 0x0E double, all
// big-endian; values are converted as stored (ubyte stays 0..255). Throws lag::InputError
// naming the file (byte offsets in the message; in the decompressed data for gzip files) for:
// an unreadable file, a bad magic number, an unknown type code, zero dimensions, dimensions
// whose product cannot be held, data shorter or longer than the dimensions say, and a corrupt
// or cut-off gzip stream.
IdxArray read_idx(const std::string& path);

// An image file and a label file as one shard: row i is image i flattened (all dims after the
// first), with ubyte pixels divided by 255 (other element types are kept as stored), plus a
// constant 1.0 feature appended when `bias`; y is the label (class index, as double).
// `limit` > 0 keeps only the first `limit` images. The source is the image file; the label
// census is left empty (rows of a binary file have no line numbers). Throws lag::InputError for
// read_idx's errors and for: an image file with fewer than 2 dims or no images or no pixels, a
// non-finite float pixel, a label file that is not 1-dimensional, image and label counts that
// differ (naming both files), labels that are not non-negative integers.
Shard<double> load_idx_images(const std::string& images, const std::string& labels, bool bias,
                              std::size_t limit = 0);

}  // namespace lag
