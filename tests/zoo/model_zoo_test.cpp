// The model zoo against hand-computed parameter counts, FLOPs and activation bytes, and its
// errors for unknown names and inputs the model cannot take.
#include <gtest/gtest.h>

#include <cstdint>

#include "saturn/model_zoo.h"

namespace saturn {
namespace {

ModelShape model(const std::string& name, ModelInput input = {}) {
  auto m = find_model(name, input);
  EXPECT_TRUE(m.ok()) << m.error().to_string();
  return m.ok() ? *m : ModelShape{};
}

TEST(ModelZoo, Gpt2ParameterCountIsExact) {
  // Per layer 12 d^2 + 13 d; token and position embeddings; final LayerNorm; tied head.
  const std::int64_t d = 768, layers = 12, vocab = 50257, context = 1024;
  const std::int64_t expected = layers * (12 * d * d + 13 * d) + vocab * d + context * d + 2 * d;
  EXPECT_EQ(expected, 124439808);
  EXPECT_EQ(model("gpt2").params, 124439808);
}

TEST(ModelZoo, Gpt2XlParameterCount) {
  const std::int64_t d = 1600;
  EXPECT_EQ(model("gpt2-xl").params, 48 * (12 * d * d + 13 * d) + 50257 * d + 1024 * d + 2 * d);
  EXPECT_EQ(model("gpt2-xl").params, 1557611200);
}

TEST(ModelZoo, Gpt2FourBillionParameterCount) {
  const std::int64_t d = 4096;
  EXPECT_EQ(model("gpt2-4b").params, 20 * (12 * d * d + 13 * d) + 50257 * d + 1024 * d + 2 * d);
  EXPECT_NEAR(static_cast<double>(model("gpt2-4b").params), 4.24e9, 0.01e9);
}

TEST(ModelZoo, GptJParameterCount) {
  // One LayerNorm per layer, q/k/v/out without bias, MLP 4096->16384->4096 with bias, untied
  // LM head with bias, rotary positions (no position table).
  const std::int64_t d = 4096, f = 16384, vocab = 50400;
  const std::int64_t layer = 2 * d + 4 * d * d + 2 * d * f + f + d;
  const std::int64_t expected = 28 * layer + vocab * d + 2 * d + vocab * d + vocab;
  EXPECT_EQ(model("gptj-6b").params, expected);
  EXPECT_NEAR(static_cast<double>(expected), 6.05e9, 0.01e9);
}

TEST(ModelZoo, VitB16ParameterCount) {
  // Patch projection 16x16x3 -> 768 with bias, class token, 197 positions, 12 layers, final
  // LayerNorm, 1000-class head.
  const std::int64_t d = 768;
  const std::int64_t expected =
      (16 * 16 * 3 * d + d) + d + 197 * d + 12 * (12 * d * d + 13 * d) + 2 * d + (d * 1000 + 1000);
  EXPECT_EQ(expected, 86567656);
  EXPECT_EQ(model("vit-b-16").params, expected);
  EXPECT_EQ(model("vit-b-16").seq_len, 197);
}

TEST(ModelZoo, ResNet50ParameterCountIsExactWithBatchNorm) {
  EXPECT_EQ(model("resnet-50").params, 25557032);
}

TEST(ModelZoo, LargerModelsHaveTheirPublishedSizes) {
  EXPECT_NEAR(model("vit-g-14").params / 1e9, 1.84, 0.01);
  EXPECT_NEAR(model("vit-l-16").params / 1e6, 304.3, 0.5);
  EXPECT_NEAR(model("resnet-101").params / 1e6, 44.5, 0.1);
  EXPECT_NEAR(model("resnet-152").params / 1e6, 60.2, 0.1);
  EXPECT_NEAR(model("resnet-200").params / 1e6, 64.7, 0.1);
}

TEST(ModelZoo, Gpt2ForwardFlopsIncludeAttentionAndHead) {
  // 24 s d^2 + 4 s^2 d per layer (Narayanan et al. 2021) + the LM head 2 s d V.
  const double s = 1024, d = 768, v = 50257;
  const double expected = 12 * (24 * s * d * d + 4 * s * s * d) + 2 * s * d * v;
  EXPECT_DOUBLE_EQ(model("gpt2").forward_flops, expected);
  // A shorter sequence from the job's data.
  const double s2 = 256;
  EXPECT_DOUBLE_EQ(model("gpt2", {256, 0}).forward_flops,
                   12 * (24 * s2 * d * d + 4 * s2 * s2 * d) + 2 * s2 * d * v);
}

TEST(ModelZoo, ResNet50ForwardFlopsMatchThePublishedFigure) {
  // 4.09 GMACs at 224 px (He et al. 2016 quote 3.8e9 FLOPs counting multiply-adds once without
  // the projections' full cost; torchvision's figure is 4.09 GMACs).
  EXPECT_NEAR(model("resnet-50").forward_flops / 2 / 1e9, 4.09, 0.03);
}

TEST(ModelZoo, Gpt2ActivationBytesFollowKorthikanti) {
  // Korthikanti et al. 2022: 34 s h bytes per layer without the 5 a s^2 score terms (flash
  // attention), plus the fp32 log-sum-exp (4 s a bytes).
  const ModelShape m = model("gpt2");
  const double s = 1024, d = 768, a = 12;
  EXPECT_DOUBLE_EQ(m.blocks[1].activation_bytes, 34 * s * d + 4 * s * a);
  EXPECT_DOUBLE_EQ(m.blocks[1].output_bytes, 2 * s * d);
  // The head keeps its two inputs, the bf16 logits and the fused loss's fp32 log-sum-exp per
  // token, and counts the bf16 gradient of the logits at the start of the backward pass.
  EXPECT_DOUBLE_EQ(m.blocks.back().activation_bytes, 4 * s * d + 4 * s * 50257 + 4 * s);
  // Whatever the batch: the tied weight padded to 50,304 rows (bf16) and that copy's gradient.
  EXPECT_DOUBLE_EQ(m.blocks.back().workspace_bytes, 2 * 2 * 50304 * d);
  for (std::size_t i = 0; i + 1 < m.blocks.size(); ++i) EXPECT_EQ(m.blocks[i].workspace_bytes, 0);
}

TEST(ModelZoo, BlocksAddUpToTheTotals) {
  for (const std::string& name : model_names()) {
    const ModelShape m = model(name);
    std::int64_t params = 0;
    double flops = 0;
    for (const BlockShape& b : m.blocks) {
      params += b.params;
      flops += b.forward_flops;
      EXPECT_GE(b.activation_bytes, 0) << name << " " << b.name;
      EXPECT_GT(b.output_bytes, 0) << name << " " << b.name;
    }
    EXPECT_EQ(params, m.params) << name;
    EXPECT_DOUBLE_EQ(flops, m.forward_flops) << name;
    EXPECT_LT(m.checkpointed_activation_bytes(), m.activation_bytes()) << name;
    const auto arch = find_architecture(name);
    ASSERT_TRUE(arch.ok()) << name;
    // Blocks: embedding + layers + head for transformers, stem + bottlenecks + head for ResNets.
    std::size_t expected = 2;
    for (int d : arch->depths) expected += static_cast<std::size_t>(d);
    expected += static_cast<std::size_t>(arch->layers);
    EXPECT_EQ(m.blocks.size(), expected) << name;
  }
}

TEST(ModelZoo, TinyModelsAndTheTokenizerVocabulary) {
  const ModelShape tiny = model("gpt2-tiny");
  EXPECT_EQ(tiny.seq_len, 256);
  // Byte-level text: the 256-symbol vocabulary replaces GPT-2's in the embedding and the head.
  auto bytes = find_model("gpt2-tiny", {0, 0, 256});
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(tiny.params - bytes->params, (50257 - 256) * 64);
  auto image = find_model("resnet-tiny", {0, 0, 256});
  EXPECT_FALSE(image.ok());
  const auto arch = find_architecture("resnet-tiny");
  ASSERT_TRUE(arch.ok());
  EXPECT_EQ(arch->width, 8);
  EXPECT_EQ(model("resnet-tiny").image_size, 32);
}

TEST(ModelZoo, TiedHeadUsesTheEmbeddingWithoutCountingItTwice) {
  const ModelShape gpt2 = model("gpt2");
  EXPECT_EQ(gpt2.blocks.back().tied_params, 50257 * 768);
  EXPECT_EQ(gpt2.blocks.back().params, 2 * 768);
  const ModelShape gptj = model("gptj-6b");
  EXPECT_EQ(gptj.blocks.back().tied_params, 0);
}

TEST(ModelZoo, ImageSizeChangesTheSequence) {
  EXPECT_EQ(model("vit-g-14").seq_len, 257);
  EXPECT_EQ(model("vit-b-16", {0, 384}).seq_len, 577);
  EXPECT_GT(model("resnet-50", {0, 384}).forward_flops, model("resnet-50").forward_flops * 2.9);
}

TEST(ModelZoo, UnknownModelListsTheKnownOnes) {
  auto m = find_model("gpt5");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().field, "model");
  EXPECT_NE(m.error().message.find("gpt2-xl"), std::string::npos);
  EXPECT_NE(m.error().message.find("resnet-200"), std::string::npos);
}

TEST(ModelZoo, RejectsInputsTheModelCannotTake) {
  auto long_seq = find_model("gpt2-xl", {2048, 0});
  ASSERT_FALSE(long_seq.ok());
  EXPECT_EQ(long_seq.error().field, "data.seq_len");
  EXPECT_TRUE(find_model("gptj-6b", {2048, 0}).ok());
  EXPECT_FALSE(find_model("resnet-50", {128, 0}).ok());
  EXPECT_FALSE(find_model("gpt2", {0, 224}).ok());
  auto tiny = find_model("resnet-50", {0, 16});
  ASSERT_FALSE(tiny.ok());
  EXPECT_EQ(tiny.error().field, "data.image_size");
}

}  // namespace
}  // namespace saturn
