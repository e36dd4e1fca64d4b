// ResNet (bottleneck blocks, torchvision v1.5: the stride on the 3x3 convolution) as a block
// sequence: stem, one block per bottleneck, head. Shapes and names: model.h.
#include <fmt/format.h>

#include "models/model.h"

namespace saturn::worker {
namespace {

namespace nn = torch::nn;

// BatchNorm with fp32 statistics and affine parameters whatever the activations' dtype (the
// mixed-precision path of the kernels; bf16 statistics would lose precision).
torch::Tensor batch_norm(const nn::BatchNorm2d& bn, const torch::Tensor& x) {
  namespace F = torch::nn::functional;
  return F::batch_norm(x, bn->running_mean, bn->running_var,
                       F::BatchNormFuncOptions()
                           .weight(bn->weight.to(torch::kFloat))
                           .bias(bn->bias.to(torch::kFloat))
                           .training(bn->is_training())
                           .momentum(0.1)
                           .eps(1e-5));
}

nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  nn::Conv2d c(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
  nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
  return c;
}

// Stem: 7x7/2 convolution, BatchNorm, ReLU, 3x3/2 max-pool. [B, 3, H, W] -> [B, w, H/4, W/4].
class StemImpl : public BlockImpl {
 public:
  explicit StemImpl(int width) {
    conv1 = register_module("conv1", conv(3, width, 7, 2));
    bn1 = register_module("bn1", nn::BatchNorm2d(width));
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    return torch::max_pool2d(torch::relu(batch_norm(bn1, conv1->forward(x))), 3, 2, 1);
  }
  nn::Conv2d conv1{nullptr};
  nn::BatchNorm2d bn1{nullptr};
};

// Bottleneck: 1x1 (in -> w), 3x3 (w -> w, stride), 1x1 (w -> 4w), each with BatchNorm; a
// projected shortcut when the shape changes. [B, in, h, h] -> [B, 4w, h/stride, h/stride].
class BottleneckImpl : public BlockImpl {
 public:
  BottleneckImpl(int64_t in, int64_t w, int64_t stride) {
    conv1 = register_module("conv1", conv(in, w, 1, 1));
    bn1 = register_module("bn1", nn::BatchNorm2d(w));
    conv2 = register_module("conv2", conv(w, w, 3, stride));
    bn2 = register_module("bn2", nn::BatchNorm2d(w));
    conv3 = register_module("conv3", conv(w, 4 * w, 1, 1));
    bn3 = register_module("bn3", nn::BatchNorm2d(4 * w));
    if (stride != 1 || in != 4 * w) {
      down_conv = register_module("downsample_conv", conv(in, 4 * w, 1, stride));
      down_bn = register_module("downsample_bn", nn::BatchNorm2d(4 * w));
    }
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    torch::Tensor y = torch::relu(batch_norm(bn1, conv1->forward(x)));
    y = torch::relu(batch_norm(bn2, conv2->forward(y)));
    y = batch_norm(bn3, conv3->forward(y));
    const torch::Tensor shortcut = down_conv ? batch_norm(down_bn, down_conv->forward(x)) : x;
    return torch::relu(y + shortcut);
  }
  nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr}, down_conv{nullptr};
  nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr}, down_bn{nullptr};
};

// Head: global average pool, fully connected. [B, C, h, h] -> [B, K].
class ResNetHeadImpl : public BlockImpl {
 public:
  ResNetHeadImpl(int64_t channels, int64_t classes) {
    fc = register_module("fc", nn::Linear(channels, classes));
  }
  torch::Tensor forward(const torch::Tensor& x) override { return fc->forward(x.mean({2, 3})); }
  nn::Linear fc{nullptr};
};

}  // namespace

std::shared_ptr<Model> build_resnet(const ModelArchitecture& a, BlockSink sink) {
  auto model = std::make_shared<Model>(a, std::move(sink));
  model->add_block("stem", std::make_shared<StemImpl>(a.width));
  int64_t channels = a.width;
  for (std::size_t stage = 0; stage < a.depths.size(); ++stage) {
    const int64_t w = static_cast<int64_t>(a.width) << stage;
    for (int i = 0; i < a.depths[stage]; ++i) {
      const int64_t stride = (stage > 0 && i == 0) ? 2 : 1;
      model->add_block(fmt::format("layer{}.{}", stage + 1, i),
                       std::make_shared<BottleneckImpl>(channels, w, stride));
      channels = 4 * w;
    }
  }
  model->add_block("head", std::make_shared<ResNetHeadImpl>(channels, a.classes));
  return model;
}

}  // namespace saturn::worker
