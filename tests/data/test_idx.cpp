// IDX reader: element types, gzip detection, the image/label loader and its error messages.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "../temp_dir_test.hpp"
#include "lag/error.hpp"
#include "lag/idx.hpp"

namespace {

namespace fs = std::filesystem;

// An IDX file's bytes: magic 00 00 TYPE NDIMS, big-endian 32-bit dims, then `data`.
std::string idx_bytes(unsigned char type, const std::vector<std::uint32_t>& dims,
                      const std::string& data) {
  std::string s;
  s += '\0';
  s += '\0';
  s += static_cast<char>(type);
  s += static_cast<char>(dims.size());
  for (const std::uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((d >> shift) & 0xff);
  }
  return s + data;
}

std::string ubytes(const std::vector<int>& values) {
  std::string s;
  for (const int v : values) s += static_cast<char>(static_cast<unsigned char>(v));
  return s;
}

// Big-endian bytes of a 32-bit pattern.
std::string be32(std::uint32_t u) {
  std::string s;
  for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((u >> shift) & 0xff);
  return s;
}

std::string be_float(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return be32(u);
}

class Idx : public lag::test::TempDirTest {
 protected:
  // Written through zlib's gzip writer, as gzip(1) would.
  std::string write_gz(const std::string& name, const std::string& content) const {
    const std::string path = (dir_ / name).string();
    gzFile f = gzopen(path.c_str(), "wb");
    EXPECT_NE(f, nullptr);
    if (f == nullptr) return path;
    EXPECT_EQ(gzwrite(f, content.data(), static_cast<unsigned>(content.size())),
              static_cast<int>(content.size()));
    EXPECT_EQ(gzclose(f), Z_OK);
    return path;
  }

  std::string read(const std::string& path) const {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
};

// The message of the InputError that `f` throws ("" and a test failure when it throws none).
template <class F>
std::string input_error(F&& f) {
  try {
    f();
  } catch (const lag::InputError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected lag::InputError, got: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected lag::InputError, nothing was thrown";
  return "";
}

// `message` reads "PATH: ..." and contains `text`, all on one line.
void expect_message(const std::string& message, const std::string& path, const std::string& text) {
  EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << "message: " << message;
  EXPECT_NE(message.find(text), std::string::npos)
      << "message: " << message << "\nexpected: " << text;
  EXPECT_EQ(message.find('\n'), std::string::npos) << "message: " << message;
}

std::string read_error(const std::string& path) {
  return input_error([&] { lag::read_idx(path); });
}

// 3 images of 2 x 2 ubyte pixels, and their labels.
const std::vector<int> kPixels = {0, 255, 51, 1, 2, 3, 4, 5, 200, 100, 17, 128};
const std::vector<int> kLabels = {7, 0, 9};

TEST_F(Idx, ReadsUbyteArrayRawAndGzip) {
  const std::string bytes = idx_bytes(0x08, {3, 2, 2}, ubytes(kPixels));
  for (const std::string& path : {write("a.idx", bytes), write_gz("a.idx.gz", bytes)}) {
    SCOPED_TRACE(path);
    const lag::IdxArray a = lag::read_idx(path);
    EXPECT_EQ(a.dims, (std::vector<std::size_t>{3, 2, 2}));
    EXPECT_EQ(a.values, std::vector<double>(kPixels.begin(), kPixels.end()));
  }
}

TEST_F(Idx, GzipIsDetectedByContentNotName) {
  const std::string bytes = idx_bytes(0x08, {2}, ubytes({1, 2}));
  const std::string gz = write_gz("packed.gz", bytes);
  const std::string plain_but_gz_name = write("plain.gz", bytes);
  const std::string gz_but_plain_name = write("packed.idx", read(gz));
  EXPECT_EQ(lag::read_idx(plain_but_gz_name).values, (std::vector<double>{1, 2}));
  EXPECT_EQ(lag::read_idx(gz_but_plain_name).values, (std::vector<double>{1, 2}));
}

TEST_F(Idx, ConcatenatedGzipMembersAreOneStream) {
  const std::string bytes = idx_bytes(0x08, {4}, ubytes({1, 2, 3, 4}));
  const std::string first = read(write_gz("1.gz", bytes.substr(0, 9)));
  const std::string second = read(write_gz("2.gz", bytes.substr(9)));
  EXPECT_EQ(lag::read_idx(write("both.gz", first + second)).values,
            (std::vector<double>{1, 2, 3, 4}));
}

TEST_F(Idx, ReadsEveryElementType) {
  // sbyte
  EXPECT_EQ(lag::read_idx(write("s8", idx_bytes(0x09, {3}, ubytes({0x80, 0xff, 0x7f})))).values,
            (std::vector<double>{-128, -1, 127}));
  // short, big-endian
  EXPECT_EQ(
      lag::read_idx(write("s16", idx_bytes(0x0B, {2}, ubytes({0x01, 0x02, 0xff, 0xfe})))).values,
      (std::vector<double>{258, -2}));
  // int, big-endian
  const lag::IdxArray ints = lag::read_idx(write(
      "s32", idx_bytes(0x0C, {1, 3}, be32(0x01020304) + be32(0xffffffff) + be32(0x80000000))));
  EXPECT_EQ(ints.dims, (std::vector<std::size_t>{1, 3}));
  EXPECT_EQ(ints.values, (std::vector<double>{16909060, -1, -2147483648.0}));
  // float, big-endian
  EXPECT_EQ(
      lag::read_idx(
          write("f32", idx_bytes(0x0D, {3}, be_float(0.5f) + be_float(-1.25f) + be_float(0.1f))))
          .values,
      (std::vector<double>{0.5, -1.25, static_cast<double>(0.1f)}));
  // double, big-endian: 1.0 is 3FF0 0000 0000 0000
  EXPECT_EQ(lag::read_idx(write("f64", idx_bytes(0x0E, {2},
                                                 ubytes({0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0xc0, 0, 0,
                                                         0, 0, 0, 0, 0}))))
                .values,
            (std::vector<double>{1.0, -2.0}));
}

TEST_F(Idx, LoadsImagesAndLabelsRawAndGzip) {
  const std::string images = idx_bytes(0x08, {3, 2, 2}, ubytes(kPixels));
  const std::string labels = idx_bytes(0x08, {3}, ubytes(kLabels));
  const std::vector<std::pair<std::string, std::string>> files = {
      {write("img", images), write("lab", labels)},
      {write_gz("img.gz", images), write_gz("lab.gz", labels)}};
  for (const auto& [img, lab] : files) {
    SCOPED_TRACE(img);
    const lag::Shard<double> s = lag::load_idx_images(img, lab, false);
    EXPECT_EQ(s.source, img);
    EXPECT_EQ(s.rows, 3u);
    EXPECT_EQ(s.dim, 4u);
    ASSERT_EQ(s.x.size(), 12u);
    for (std::size_t i = 0; i < kPixels.size(); ++i) EXPECT_EQ(s.x[i], kPixels[i] / 255.0) << i;
    EXPECT_EQ(s.y, (std::vector<double>{7, 0, 9}));
  }
}

TEST_F(Idx, BiasColumnAndLimit) {
  const std::string img = write("img", idx_bytes(0x08, {3, 2, 2}, ubytes(kPixels)));
  const std::string lab = write("lab", idx_bytes(0x08, {3}, ubytes(kLabels)));
  const lag::Shard<double> s = lag::load_idx_images(img, lab, true);
  EXPECT_EQ(s.dim, 5u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(s.row(i)[4], 1.0);
    for (std::size_t j = 0; j < 4; ++j) EXPECT_EQ(s.row(i)[j], kPixels[i * 4 + j] / 255.0);
  }
  const lag::Shard<double> two = lag::load_idx_images(img, lab, true, 2);
  EXPECT_EQ(two.rows, 2u);
  EXPECT_EQ(two.x, std::vector<double>(s.x.begin(), s.x.begin() + 10));
  EXPECT_EQ(two.y, (std::vector<double>{7, 0}));
  EXPECT_EQ(lag::load_idx_images(img, lab, false, 100).rows, 3u);  // limit above the count
}

TEST_F(Idx, FloatImagesAndIntLabelsAreKeptAsStored) {
  const std::string img = write("img", idx_bytes(0x0D, {2, 1}, be_float(0.25f) + be_float(-3.5f)));
  const std::string lab = write("lab", idx_bytes(0x0C, {2}, be32(3) + be32(70000)));
  const lag::Shard<double> s = lag::load_idx_images(img, lab, true);
  EXPECT_EQ(s.x, (std::vector<double>{0.25, 1.0, -3.5, 1.0}));
  EXPECT_EQ(s.y, (std::vector<double>{3, 70000}));
}

// ---- errors ----------------------------------------------------------------

TEST_F(Idx, MissingFile) {
  const std::string path = (dir_ / "nope.idx").string();
  expect_message(read_error(path), path, "cannot open");
}

TEST_F(Idx, BadMagic) {
  const std::string path = write("text.idx", "label,pixel\n1,2\n");
  expect_message(read_error(path), path,
                 "not an IDX file: the first two bytes must be 0x00 0x00, found 0x6C 0x61");
}

TEST_F(Idx, UnknownType) {
  const std::string path = write("t.idx", idx_bytes(0x07, {1}, "x"));
  expect_message(read_error(path), path, "unknown element type code 0x07 at byte offset 2");
}

TEST_F(Idx, ZeroDims) {
  const std::string path = write("z.idx", idx_bytes(0x08, {}, ""));
  expect_message(read_error(path), path, "zero dimensions");
}

TEST_F(Idx, AbsurdDims) {
  const std::string path =
      write("big.idx", idx_bytes(0x0E, {0xffffffff, 0xffffffff, 0xffffffff}, ""));
  expect_message(read_error(path), path, "absurd dimensions 4294967295 x 4294967295 x 4294967295");
}

TEST_F(Idx, TruncatedHeader) {
  const std::string path = write("h.idx", idx_bytes(0x08, {3, 2}, "").substr(0, 9));
  expect_message(read_error(path), path, "truncated header: expected 12 bytes, found 9");
}

TEST_F(Idx, TruncatedDataRawAndGzip) {
  const std::string bytes = idx_bytes(0x0B, {3, 2}, std::string(10, '\1'));
  for (const std::string& path : {write("short.idx", bytes), write_gz("short.idx.gz", bytes)}) {
    expect_message(read_error(path), path, "truncated: expected 12 bytes of data, found 10");
  }
}

TEST_F(Idx, HugeClaimOnASmallFileIsTruncatedNotAllocated) {
  // 10^11 bytes claimed: the reader must not try to hold the array before checking the size.
  const std::string bytes = idx_bytes(0x08, {100000, 100000, 10}, "12345");
  for (const std::string& path : {write("huge.idx", bytes), write_gz("huge.idx.gz", bytes)}) {
    expect_message(read_error(path), path,
                   "truncated: expected 100000000000 bytes of data, found 5");
  }
}

TEST_F(Idx, TruncatedImagesThroughTheLoader) {
  const std::string images = idx_bytes(0x08, {3, 2, 2}, ubytes(kPixels)).substr(0, 20);
  const std::string lab = write("lab", idx_bytes(0x08, {3}, ubytes(kLabels)));
  for (const std::string& img : {write("img", images), write_gz("img.gz", images)}) {
    expect_message(input_error([&] { lag::load_idx_images(img, lab, true); }), img,
                   "truncated: expected 12 bytes of data, found 4");
  }
}

TEST_F(Idx, TrailingBytesRawAndGzip) {
  const std::string bytes = idx_bytes(0x08, {2, 2}, ubytes({1, 2, 3, 4, 5, 6, 7}));
  const std::string raw = write("long.idx", bytes);
  expect_message(read_error(raw), raw,
                 "trailing garbage: 3 extra bytes after the data, from byte offset 16");
  const std::string gz = write_gz("long.idx.gz", bytes);
  expect_message(read_error(gz), gz,
                 "trailing garbage: 3 extra bytes after the data, from byte offset 16 of the "
                 "decompressed data");
}

TEST_F(Idx, LargeTrailingGarbageInGzipIsCounted) {
  // Past the declared data, bytes are counted without being kept; the count must still be exact.
  const std::string bytes = idx_bytes(0x08, {2}, ubytes({1, 2})) + std::string(3'000'000, 'z');
  const std::string gz = write_gz("tail.gz", bytes);
  expect_message(read_error(gz), gz, "trailing garbage: 3000000 extra bytes after the data");
}

TEST_F(Idx, CorruptGzip) {
  std::string gz = read(write_gz("ok.gz", idx_bytes(0x08, {64}, std::string(64, '\5'))));
  ASSERT_GT(gz.size(), 20u);
  gz[10] = static_cast<char>(0xff);  // first deflate block: type 3, which is reserved
  const std::string path = write("bad.gz", gz);
  expect_message(read_error(path), path, "corrupt gzip stream: invalid block type");
}

TEST_F(Idx, CorruptGzipChecksum) {
  std::string gz = read(write_gz("ok.gz", idx_bytes(0x08, {64}, std::string(64, '\5'))));
  gz[gz.size() - 8] = static_cast<char>(gz[gz.size() - 8] ^ 0x55);  // the CRC-32 in the trailer
  const std::string path = write("crc.gz", gz);
  expect_message(read_error(path), path, "corrupt gzip stream: incorrect data check");
}

TEST_F(Idx, CutOffGzip) {
  const std::string gz = read(write_gz("ok.gz", idx_bytes(0x08, {64}, std::string(64, '\5'))));
  const std::string path = write("cut.gz", gz.substr(0, gz.size() - 6));
  expect_message(read_error(path), path, "corrupt gzip stream: it ends early");
}

TEST_F(Idx, GarbageAfterGzipStream) {
  const std::string gz = read(write_gz("ok.gz", idx_bytes(0x08, {1}, "\1")));
  const std::string path = write("junk.gz", gz + "junk");
  expect_message(read_error(path), path, "corrupt gzip stream: 4 unexpected bytes after");
}

TEST_F(Idx, ImageAndLabelCountMismatchNamesBothFiles) {
  const std::string img = write("img", idx_bytes(0x08, {3, 2, 2}, ubytes(kPixels)));
  const std::string lab = write("lab", idx_bytes(0x08, {2}, ubytes({1, 2})));
  expect_message(input_error([&] { lag::load_idx_images(img, lab, false); }), img,
                 "has 3 images but " + lab + " has 2 labels");
}

TEST_F(Idx, LabelFileMustBeOneDimensional) {
  const std::string img = write("img", idx_bytes(0x08, {3, 2, 2}, ubytes(kPixels)));
  const std::string lab = write("lab", idx_bytes(0x08, {3, 1}, ubytes(kLabels)));
  expect_message(input_error([&] { lag::load_idx_images(img, lab, false); }), lab,
                 "must be 1-dimensional, found dims 3 x 1");
}

TEST_F(Idx, ImageFileNeedsTwoDims) {
  const std::string img = write("img", idx_bytes(0x08, {3}, ubytes(kLabels)));
  const std::string lab = write("lab", idx_bytes(0x08, {3}, ubytes(kLabels)));
  expect_message(input_error([&] { lag::load_idx_images(img, lab, false); }), img,
                 "at least 2 dimensions");
}

TEST_F(Idx, LabelsMustBeNonNegativeIntegers) {
  const std::string img = write("img", idx_bytes(0x08, {3, 2, 2}, ubytes(kPixels)));
  const std::string neg = write("neg", idx_bytes(0x09, {3}, ubytes({1, 0xff, 2})));
  expect_message(input_error([&] { lag::load_idx_images(img, neg, false); }), neg,
                 "label -1 of image 1 (0-based), at byte offset 9, is not a class index");
  const std::string frac =
      write("frac", idx_bytes(0x0D, {3}, be_float(1.0f) + be_float(2.0f) + be_float(2.5f)));
  expect_message(input_error([&] { lag::load_idx_images(img, frac, false); }), frac,
                 "label 2.5 of image 2");
  const std::string big = write("big", idx_bytes(0x0C, {3}, be32(1) + be32(2) + be32(-70000)));
  expect_message(input_error([&] { lag::load_idx_images(img, big, false); }), big,
                 "label -70000 of image 2 (0-based), at byte offset 16");
}

TEST_F(Idx, NonFinitePixel) {
  const std::string img =
      write("img", idx_bytes(0x0D, {2, 1}, be_float(0.5f) + be32(0x7fc00000)));  // quiet NaN
  const std::string lab = write("lab", idx_bytes(0x08, {2}, ubytes({0, 1})));
  expect_message(input_error([&] { lag::load_idx_images(img, lab, false); }), img,
                 "pixel value nan in image 1 (0-based), pixel 0, at byte offset 16");
}

// ---- the real thing --------------------------------------------------------

TEST(IdxFashionMnist, TestSetLoads) {
  const std::string dir = "/usr/share/datasets/fashion-mnist/";
  const std::string images = dir + "t10k-images-idx3-ubyte.gz";
  const std::string labels = dir + "t10k-labels-idx1-ubyte.gz";
  if (!fs::exists(images) || !fs::exists(labels)) GTEST_SKIP() << "no " << images;
  const auto start = std::chrono::steady_clock::now();
  const lag::Shard<double> s = lag::load_idx_images(images, labels, true);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  RecordProperty("load_seconds", std::to_string(seconds));
  EXPECT_EQ(s.rows, 10000u);
  EXPECT_EQ(s.dim, 785u);
  std::vector<int> per_class(10, 0);
  for (const double y : s.y) {
    ASSERT_TRUE(y >= 0 && y <= 9) << y;
    ++per_class[static_cast<std::size_t>(y)];
  }
  EXPECT_EQ(per_class, std::vector<int>(10, 1000));
  double lo = 1.0;
  double hi = 0.0;
  for (std::size_t i = 0; i < s.rows; ++i) {
    EXPECT_EQ(s.row(i)[784], 1.0);
    for (std::size_t j = 0; j < 784; ++j) {
      lo = std::min(lo, s.row(i)[j]);
      hi = std::max(hi, s.row(i)[j]);
    }
  }
  EXPECT_EQ(lo, 0.0);
  EXPECT_EQ(hi, 1.0);
  EXPECT_EQ(lag::load_idx_images(images, labels, false).dim, 784u);
}

}  // namespace
