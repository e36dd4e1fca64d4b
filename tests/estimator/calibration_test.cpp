// Calibration files: the built-in calibration is the shipped file, every value has a source,
// partial GPU entries inherit the default, and bad input is rejected with file:line:field.
#include <gtest/gtest.h>

#include <string>

#include "saturn/estimator.h"

namespace saturn {
namespace {

const std::string kShipped = std::string(SATURN_SOURCE_DIR) + "/calibration/default.yaml";

// A minimal valid file: every default key, each with a source.
std::string minimal(const std::string& extra_gpus = "") {
  std::string text = "text_bytes_per_token: {value: 4, source: test}\ngpus:\n  default:\n";
  for (const auto& [key, value] : calibration_entries(default_calibration())) {
    const std::string prefix = "gpus.default.";
    if (key.rfind(prefix, 0) != 0) continue;
    text += "    " + key.substr(prefix.size()) + ": {value: " + std::to_string(value.value) +
            ", source: test}\n";
  }
  return text + extra_gpus;
}

std::string error_of(const std::string& text) {
  auto cal = parse_calibration_yaml(text, "cal.yaml");
  return cal.ok() ? "" : cal.error().to_string();
}

TEST(Calibration, BuiltInDefaultsAreTheShippedFile) {
  auto shipped = load_calibration(kShipped);
  ASSERT_TRUE(shipped.ok()) << shipped.error().to_string();
  const auto file = calibration_entries(*shipped);
  const auto built_in = calibration_entries(default_calibration());
  ASSERT_EQ(file.size(), built_in.size());
  for (std::size_t i = 0; i < file.size(); ++i) {
    EXPECT_EQ(file[i].first, built_in[i].first);
    EXPECT_DOUBLE_EQ(file[i].second.value, built_in[i].second.value) << file[i].first;
    EXPECT_EQ(file[i].second.source, built_in[i].second.source) << file[i].first;
  }
}

TEST(Calibration, EveryValueSaysWhereItComesFrom) {
  for (const auto& [key, value] : calibration_entries(default_calibration())) {
    EXPECT_GT(value.source.size(), 10u) << key;
    const bool measured = value.source.find("NOTES.md") != std::string::npos ||
                          value.source.find("measured") != std::string::npos;
    const bool assumed = value.source.find("assumed") != std::string::npos;
    EXPECT_TRUE(measured || assumed) << key << ": " << value.source;
  }
}

TEST(Calibration, GpuEntriesInheritTheDefaultAndMatchCaseInsensitively) {
  auto cal = parse_calibration_yaml(
      minimal("  A100-40GB:\n    conv_mfu: {value: 0.5, source: measured}\n"), "cal.yaml");
  ASSERT_TRUE(cal.ok()) << cal.error().to_string();
  const GpuCalibration& a100 = cal->for_gpu("a100-40gb");
  EXPECT_EQ(a100.gpu, "a100-40gb");
  EXPECT_DOUBLE_EQ(a100.conv_mfu.value, 0.5);
  EXPECT_EQ(a100.conv_mfu.source, "measured");
  EXPECT_DOUBLE_EQ(a100.transformer_mfu.value, cal->defaults.transformer_mfu.value);
  EXPECT_EQ(&cal->for_gpu("h200"), &cal->defaults);
}

TEST(Calibration, RejectsAnUnknownKeyWithLineAndField) {
  EXPECT_EQ(error_of(minimal("  h100-80gb:\n    tranformer_mfu: {value: 0.3, source: x}\n")),
            "cal.yaml:21: gpus.h100-80gb.tranformer_mfu: unknown key \"tranformer_mfu\" "
            "(allowed: transformer_mfu, conv_mfu, transformer_block_overhead_s, "
            "conv_block_overhead_s, hbm_efficiency, "
            "collective_efficiency, host_link_efficiency, comm_overlap, cpu_adam_params_per_s, "
            "usable_memory_fraction, framework_overhead_bytes, checkpoint_write_bytes_per_s, "
            "checkpoint_read_bytes_per_s, process_start_s, warmup_s, warmup_steps)");
}

TEST(Calibration, RejectsWrongTypesNegativesNaNAndOutOfRange) {
  EXPECT_EQ(error_of(minimal("  h200:\n    conv_mfu: {value: high, source: x}\n")),
            "cal.yaml:21: gpus.h200.conv_mfu.value: expected a number, got high");
  EXPECT_EQ(error_of(minimal("  h200:\n    process_start_s: {value: -1, source: x}\n")),
            "cal.yaml:21: gpus.h200.process_start_s.value: must be >= 0, got -1");
  EXPECT_EQ(error_of(minimal("  h200:\n    warmup_s: {value: .nan, source: x}\n")),
            "cal.yaml:21: gpus.h200.warmup_s.value: must be a finite number");
  EXPECT_EQ(error_of(minimal("  h200:\n    transformer_mfu: {value: 1.5, source: x}\n")),
            "cal.yaml:21: gpus.h200.transformer_mfu.value: must be <= 1, got 1.5");
  EXPECT_EQ(error_of(minimal("  h200:\n    conv_mfu: 0.3\n")),
            "cal.yaml:21: gpus.h200.conv_mfu: expected {value: <number>, source: \"<where it "
            "comes from>\"}, got 0.3");
}

TEST(Calibration, EveryValueNeedsASource) {
  EXPECT_EQ(error_of(minimal("  h200:\n    conv_mfu: {value: 0.3}\n")),
            "cal.yaml:21: gpus.h200.conv_mfu.source: missing required key \"source\" (say where "
            "the value comes from)");
  EXPECT_EQ(error_of(minimal("  h200:\n    conv_mfu: {value: 0.3, source: \"\"}\n")),
            "cal.yaml:21: gpus.h200.conv_mfu.source: must not be empty");
}

TEST(Calibration, TheDefaultEntryIsRequiredAndComplete) {
  EXPECT_EQ(error_of("text_bytes_per_token: {value: 4, source: x}\ngpus:\n"
                     "  h200: {conv_mfu: {value: 0.3, source: x}}\n"),
            "cal.yaml:3: gpus.default: missing required entry \"default\" (used for GPU types "
            "not listed)");
  EXPECT_EQ(error_of("text_bytes_per_token: {value: 4, source: x}\ngpus:\n"
                     "  default: {conv_mfu: {value: 0.3, source: x}}\n"),
            "cal.yaml:3: gpus.default.transformer_mfu: missing required key \"transformer_mfu\" "
            "(the default entry must give every key)");
}

TEST(Calibration, RejectsSyntaxErrorsDuplicatesAndUnknownTopLevelKeys) {
  EXPECT_NE(error_of("gpus: [\n").find("cal.yaml:"), std::string::npos);
  EXPECT_EQ(error_of(minimal("  h200: {conv_mfu: {value: 0.3, source: x}}\n"
                             "  H200: {conv_mfu: {value: 0.3, source: x}}\n")),
            "cal.yaml:21: gpus.H200: GPU type \"H200\" is listed twice (names are "
            "case-insensitive)");
  EXPECT_EQ(error_of("mfu: 0.3\n" + minimal()),
            "cal.yaml:1: mfu: unknown key \"mfu\" (allowed: name, text_bytes_per_token, gpus)");
  EXPECT_EQ(error_of(""), "cal.yaml: empty calibration; expected text_bytes_per_token and gpus");
}

TEST(Calibration, MissingFileIsAnError) {
  auto cal = load_calibration("/nonexistent/cal.yaml");
  ASSERT_FALSE(cal.ok());
  EXPECT_NE(cal.error().to_string().find("/nonexistent/cal.yaml"), std::string::npos);
}

}  // namespace
}  // namespace saturn
