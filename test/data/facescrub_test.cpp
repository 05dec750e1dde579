// FaceScrub image folders written by the test: identity selection, the seeded split and its
// record, train/ and test/ sub-folders, resizing, and the messages for bad input.
#include <gtest/gtest.h>
#include <stb/stb_image_write.h>

#include <filesystem>
#include <fstream>

#include "data/facescrub.h"
#include "test/test_util.h"

namespace mfd::test {
namespace {

namespace fs = std::filesystem;

void write_face(const fs::path& path, int size, uint8_t value) {
  std::vector<uint8_t> px(static_cast<size_t>(size) * size * 3, value);
  fs::create_directories(path.parent_path());
  stbi_write_png(path.c_str(), size, size, 3, px.data(), size * 3);
}

class FaceScrubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_ / "facescrub";
    // Alice 10 images, Bob 5, Carol 5, Dave 2: with 3 identities, Dave is left out and the tie
    // between Bob and Carol keeps both.
    const std::pair<const char*, int> people[] = {{"Alice", 10}, {"Bob", 5}, {"Carol", 5}, {"Dave", 2}};
    for (const auto& [name, count] : people)
      for (int i = 0; i < count; ++i) write_face(root_ / name / (std::to_string(i) + ".png"), 40 + i, static_cast<uint8_t>(i));
  }
  TempDir tmp_{"facescrub_test"};
  const fs::path dir_ = tmp_.path();
  fs::path root_;
};

TEST_F(FaceScrubTest, MostImagedIdentitiesAndASeededSplit) {
  FaceScrubOptions o;
  o.identities = 3;
  o.split_record = (dir_ / "split.txt").string();
  FaceScrubData d = load_facescrub(dir_.string(), o);
  EXPECT_FALSE(d.split_from_folders);
  EXPECT_EQ(d.train.num_classes, 3);
  EXPECT_EQ(d.train.n + d.test.n, 20);
  EXPECT_EQ(d.test.n, 2 + 1 + 1) << "20% of each identity, at least one";
  EXPECT_EQ(d.train.class_counts(), (std::vector<int64_t>{8, 4, 4}));
  EXPECT_EQ(d.train.h, 64) << "resized to 64x64";
  std::ifstream record(o.split_record);
  int lines = 0;
  for (std::string line; std::getline(record, line);) ++lines;
  EXPECT_EQ(lines, 20);
  FaceScrubData again = load_facescrub(dir_.string(), o);
  EXPECT_EQ(again.test.pixels, d.test.pixels) << "the same seed, the same split";
  o.split_seed = 1;
  EXPECT_NE(load_facescrub(dir_.string(), o).test.pixels, d.test.pixels) << "another seed, another split";
}

TEST_F(FaceScrubTest, IdentitiesFileAndFolderSplit) {
  std::ofstream(dir_ / "ids.txt") << "Dave\nBob\n";
  FaceScrubOptions o;
  o.identities_file = (dir_ / "ids.txt").string();
  FaceScrubData d = load_facescrub(dir_.string(), o);
  EXPECT_EQ(d.train.num_classes, 2);
  EXPECT_EQ(d.train.n + d.test.n, 7);

  fs::remove_all(root_);
  write_face(root_ / "train" / "Eve" / "a.png", 64, 1);
  write_face(root_ / "train" / "Eve" / "b.png", 64, 2);
  write_face(root_ / "test" / "Eve" / "c.png", 64, 3);
  FaceScrubData f = load_facescrub(dir_.string(), {});
  EXPECT_TRUE(f.split_from_folders);
  EXPECT_EQ(f.train.n, 2);
  EXPECT_EQ(f.test.n, 1);
  EXPECT_EQ(f.test.pixels[0], 3);
}

TEST_F(FaceScrubTest, BadInputsSayWhatToDo) {
  std::string msg = error_message([&] { load_facescrub((dir_ / "none").string(), {}); });
  EXPECT_NE(msg.find("none/facescrub not found"), std::string::npos) << msg;
  EXPECT_NE(msg.find("prepare-facescrub.py"), std::string::npos) << msg;
  std::ofstream(dir_ / "ids.txt") << "Zoe\n";
  FaceScrubOptions o;
  o.identities_file = (dir_ / "ids.txt").string();
  msg = error_message([&] { load_facescrub(dir_.string(), o); });
  EXPECT_NE(msg.find("identity 'Zoe'"), std::string::npos) << msg;
  std::ofstream(root_ / "Bob" / "bad.jpg") << "garbage";
  msg = error_message([&] { load_facescrub(dir_.string(), {}); });
  EXPECT_NE(msg.find("bad.jpg: cannot decode the image"), std::string::npos) << msg;
}

}  // namespace
}  // namespace mfd::test

namespace mfd::test {
namespace {

// scripts/prepare-facescrub.py on local files: one good face, one missing image, one changed one.
TEST(PrepareFaceScrub, CropsFaceBoxesAndLogsEveryFailure) {
  TempDir tmp("prepare_test");
  const fs::path dir = tmp.path();
  fs::create_directories(dir / "downloads");
  write_face(dir / "downloads" / "11.png", 60, 200);
  write_face(dir / "downloads" / "13.png", 60, 100);
  std::ofstream(dir / "actors.txt") << "name\timage_id\tface_id\turl\tbbox\tsha256\n"
                                    << "Aaron Eckhart\t1\t11\thttp://example.invalid/a.jpg\t10,5,40,45\t\n"
                                    << "Aaron Eckhart\t2\t12\thttp://example.invalid/b.jpg\t0,0,10,10\t\n"
                                    << "Adam Brody\t3\t13\thttp://example.invalid/c.jpg\t0,0,10,10\t" << std::string(64, '0') << "\n";
  const std::string cmd = system_python() + " scripts/prepare-facescrub.py --lists " + (dir / "actors.txt").string() +
                          " --images " + (dir / "downloads").string() + " --out " + (dir / "facescrub").string() +
                          " --log " + (dir / "log.txt").string() + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[1024];
  while (fgets(buffer, sizeof buffer, pipe)) output += buffer;
  EXPECT_EQ(pclose(pipe), 0) << output;
  EXPECT_NE(output.find("1 faces written"), std::string::npos) << output;
  EXPECT_TRUE(fs::exists(dir / "facescrub" / "Aaron_Eckhart" / "11.png"));
  std::ifstream log(dir / "log.txt");
  std::string all((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(all.find("12\tAaron Eckhart\timage not found"), std::string::npos) << all;
  EXPECT_NE(all.find("13\tAdam Brody\tSHA-256 differs"), std::string::npos) << all;
  FaceScrubData d = load_facescrub(dir.string(), {});
  EXPECT_EQ(d.train.n + d.test.n, 1);
}

}  // namespace
}  // namespace mfd::test
