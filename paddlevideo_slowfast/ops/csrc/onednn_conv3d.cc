// conv3d for Paddle's CPU eager mode on the oneDNN that Paddle's wheel already ships (libdnnl.so.3).
//
// Paddle 3's eager conv3d is vol2col + sgemm and never reaches oneDNN (docs/paddle_cpu_limits.md, 1 and 5).
// This operator runs oneDNN's direct convolution forward, backward-data and backward-weights primitives on
// float32 NCDHW tensors, groups 1. The activations' layout is chosen per shape (ActivationLayout); where it is
// not NCDHW, the tensors are reordered to and from it around the call. Primitives, their reorders and memory
// objects are built once per shape (input, weight, stride, padding, dilation, threads) and kept; the reordered
// copies and scratchpads live in a few grow-only buffers shared by every convolution, so steady state
// allocates only the outputs. Threads: oneDNN's OpenMP pool, whose size Paddle's core.set_num_threads sets
// (runtime.configure_cpu_threads).

#include <array>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "dnnl_c_api.h"
#include "paddle/extension.h"

// OpenMP's, resolved (like oneDNN's own calls) through libpaddle's libiomp5; primitives are planned for it
extern "C" int omp_get_max_threads();

namespace {

using namespace dnnl_abi;

void Check(dnnl_status_t status, const char* what) {
  PD_CHECK(status == kSuccess, "oneDNN ", what, " failed (status ", status, ")");
}

// A memory descriptor this file owns.
class Desc {
 public:
  Desc() = default;
  explicit Desc(dnnl_memory_desc_t md) : md_(md) {}
  Desc(const Desc&) = delete;
  Desc& operator=(const Desc&) = delete;
  ~Desc() {
    if (md_ != nullptr) dnnl_memory_desc_destroy(md_);
  }
  const_dnnl_memory_desc_t get() const { return md_; }

 private:
  dnnl_memory_desc_t md_ = nullptr;
};

using Dims5 = std::array<int64_t, 5>;

// Dense layout with the dimensions laid out in `order` (outermost first).
std::unique_ptr<Desc> DenseDesc(const Dims5& dims, const std::array<int, 5>& order) {
  dnnl_dims_t d = {}, strides = {};
  int64_t step = 1;
  for (int i = 4; i >= 0; --i) {
    strides[order[i]] = step;
    step *= dims[order[i]];
  }
  for (int i = 0; i < 5; ++i) d[i] = dims[i];
  dnnl_memory_desc_t md = nullptr;
  Check(dnnl_memory_desc_create_with_strides(&md, 5, d, kF32, strides), "memory descriptor");
  return std::make_unique<Desc>(md);
}

std::unique_ptr<Desc> PlainDesc(const Dims5& dims) { return DenseDesc(dims, {0, 1, 2, 3, 4}); }  // NCDHW / OIDHW

std::unique_ptr<Desc> AnyDesc(const Dims5& dims) {  // the primitive chooses the layout
  dnnl_dims_t d = {};
  for (int i = 0; i < 5; ++i) d[i] = dims[i];
  dnnl_memory_desc_t md = nullptr;
  Check(dnnl_memory_desc_create_with_tag(&md, 5, d, kF32, kTagAny), "memory descriptor");
  return std::make_unique<Desc>(md);
}

// How a primitive's activations (input, output and their gradients) are laid out.
enum class Layout { kChosen, kPlain, kChannelsLast };

std::unique_ptr<Desc> ActivationDesc(const Dims5& dims, Layout layout) {
  switch (layout) {
    case Layout::kPlain: return PlainDesc(dims);
    case Layout::kChannelsLast: return DenseDesc(dims, {0, 2, 3, 4, 1});
    default: return AnyDesc(dims);
  }
}

struct Runtime {
  dnnl_engine_t engine = nullptr;
  dnnl_stream_t stream = nullptr;
  Runtime() {
    Check(dnnl_engine_create(&engine, kCpu, 0), "engine");
    Check(dnnl_stream_create(&stream, engine, kStreamInOrder), "stream");
  }
};

Runtime& Rt() {
  static Runtime runtime;
  return runtime;
}

// Grow-only 64-byte aligned buffers, one per slot, reused by every primitive call (contents are scratch).
class Workspace {
 public:
  Workspace() = default;
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  ~Workspace() {
    for (auto& s : slots_) std::free(s.ptr);
  }

  void* Get(size_t slot, size_t bytes) {
    if (slots_.size() <= slot) slots_.resize(slot + 1);
    auto& s = slots_[slot];
    if (s.bytes < bytes) {
      std::free(s.ptr);
      size_t rounded = (bytes + 4095) / 4096 * 4096;
      s.ptr = std::aligned_alloc(64, rounded);
      PD_CHECK(s.ptr != nullptr, "out of memory allocating ", rounded, " bytes for a oneDNN conv3d buffer");
      s.bytes = rounded;
    }
    return s.ptr;
  }

 private:
  struct Slot {
    void* ptr = nullptr;
    size_t bytes = 0;
  };
  std::vector<Slot> slots_;
};

dnnl_memory_t NewMemory(const_dnnl_memory_desc_t md) {
  dnnl_memory_t mem = nullptr;
  Check(dnnl_memory_create(&mem, md, Rt().engine, nullptr), "memory");
  return mem;
}

void Execute(dnnl_primitive_t prim, std::vector<dnnl_exec_arg_t> args) {
  Check(dnnl_primitive_execute(prim, Rt().stream, static_cast<int>(args.size()), args.data()), "execute");
}

// One argument of a primitive: the caller's dense NCDHW buffer and, when the primitive wants another
// layout, the reorder between the two.
struct Binding {
  int arg = 0;
  bool output = false;
  dnnl_memory_t plain = nullptr;
  dnnl_memory_t inner = nullptr;      // null when the primitive takes the plain layout
  const_dnnl_memory_desc_t inner_md = nullptr;  // owned by the primitive descriptor
  dnnl_primitive_t reorder = nullptr;
  size_t inner_bytes = 0;

  Binding(const Binding&) = delete;
  Binding& operator=(const Binding&) = delete;
  Binding(Binding&& other) noexcept { *this = std::move(other); }
  Binding& operator=(Binding&& other) noexcept {
    std::swap(arg, other.arg);
    std::swap(output, other.output);
    std::swap(plain, other.plain);
    std::swap(inner, other.inner);
    std::swap(inner_md, other.inner_md);
    std::swap(reorder, other.reorder);
    std::swap(inner_bytes, other.inner_bytes);
    return *this;
  }
  ~Binding() {
    if (reorder != nullptr) dnnl_primitive_destroy(reorder);
    if (inner != nullptr) dnnl_memory_destroy(inner);
    if (plain != nullptr) dnnl_memory_destroy(plain);
  }

  Binding(const_dnnl_primitive_desc_t pd, int arg_index, const Dims5& dims, bool is_output)
      : arg(arg_index), output(is_output) {
    auto plain_md = PlainDesc(dims);
    const_dnnl_memory_desc_t wanted = dnnl_primitive_desc_query_md(pd, kQueryExecArgMd, arg_index);
    PD_CHECK(wanted != nullptr, "oneDNN gave no memory descriptor for argument ", arg_index);
    plain = NewMemory(plain_md->get());
    if (dnnl_memory_desc_equal(wanted, plain_md->get())) return;
    inner = NewMemory(wanted);
    inner_md = wanted;
    inner_bytes = dnnl_memory_desc_get_size(wanted);
    dnnl_primitive_desc_t reorder_pd = nullptr;
    const_dnnl_memory_desc_t from = output ? wanted : plain_md->get();
    const_dnnl_memory_desc_t to = output ? plain_md->get() : wanted;
    Check(dnnl_reorder_primitive_desc_create(&reorder_pd, from, Rt().engine, to, Rt().engine, nullptr),
          "reorder descriptor");
    Check(dnnl_primitive_create(&reorder, reorder_pd), "reorder");
    dnnl_primitive_desc_destroy(reorder_pd);
  }
};

// A convolution primitive with its arguments' bindings and scratchpad size.
struct Step {
  dnnl_primitive_desc_t pd = nullptr;
  dnnl_primitive_t prim = nullptr;
  std::vector<Binding> bindings;
  dnnl_memory_t scratch = nullptr;
  size_t scratch_bytes = 0;

  Step() = default;
  Step(const Step&) = delete;
  Step& operator=(const Step&) = delete;
  ~Step() {
    bindings.clear();  // their reorders and memories before the descriptor they point into
    if (scratch != nullptr) dnnl_memory_destroy(scratch);
    if (prim != nullptr) dnnl_primitive_destroy(prim);
    if (pd != nullptr) dnnl_primitive_desc_destroy(pd);
  }

  void Finish() {
    Check(dnnl_primitive_create(&prim, pd), "convolution primitive");
    const_dnnl_memory_desc_t md = dnnl_primitive_desc_query_md(pd, kQueryExecArgMd, kArgScratchpad);
    scratch_bytes = md == nullptr ? 0 : dnnl_memory_desc_get_size(md);
    if (scratch_bytes > 0) scratch = NewMemory(md);
  }

  // buffers[i]: the dense buffer of bindings[i], whose own layout copy sits in workspace slot i; with
  // `first_ready`, slot 0 already holds bindings[0] in this primitive's layout (left there by the step before)
  void Run(const std::vector<void*>& buffers, Workspace* ws, bool first_ready = false) {
    std::vector<dnnl_exec_arg_t> args;
    for (size_t i = 0; i < bindings.size(); ++i) {
      Binding& b = bindings[i];
      Check(dnnl_memory_set_data_handle(b.plain, buffers[i]), "set handle");
      if (b.inner == nullptr) {
        args.push_back({b.arg, b.plain});
        continue;
      }
      Check(dnnl_memory_set_data_handle(b.inner, ws->Get(i, b.inner_bytes)), "set handle");
      if (!b.output && !(i == 0 && first_ready)) Execute(b.reorder, {{kArgSrc, b.plain}, {kArgDst, b.inner}});
      args.push_back({b.arg, b.inner});
    }
    if (scratch != nullptr) {
      Check(dnnl_memory_set_data_handle(scratch, ws->Get(bindings.size(), scratch_bytes)), "set handle");
      args.push_back({kArgScratchpad, scratch});
    }
    Execute(prim, args);
    for (Binding& b : bindings) {
      if (b.output && b.inner != nullptr) Execute(b.reorder, {{kArgSrc, b.inner}, {kArgDst, b.plain}});
    }
  }
};

using Key = std::array<int64_t, 28>;

// Everything a primitive depends on; dilation in oneDNN's convention (Paddle's minus one).
struct Geometry {
  Dims5 src, weights, dst;
  dnnl_dims_t strides = {}, dilates = {}, pad_l = {}, pad_r = {};

  Key MakeKey() const {  // with the thread count: oneDNN splits the work when it builds a primitive
    Key key{};
    for (int i = 0; i < 5; ++i) {
      key[i] = src[i];
      key[5 + i] = weights[i];
      key[10 + i] = dst[i];
    }
    for (int i = 0; i < 3; ++i) {
      key[15 + i] = strides[i];
      key[18 + i] = dilates[i];
      key[21 + i] = pad_l[i];
      key[24 + i] = pad_r[i];
    }
    key[27] = omp_get_max_threads();
    return key;
  }
};

Geometry MakeGeometry(const std::vector<int64_t>& x, const std::vector<int64_t>& w, const std::vector<int>& strides,
                      const std::vector<int>& paddings, const std::vector<int>& dilations) {
  PD_CHECK(x.size() == 5 && w.size() == 5, "conv3d needs 5-D input and weight");
  PD_CHECK(strides.size() == 3 && paddings.size() == 3 && dilations.size() == 3,
           "conv3d needs 3 strides, paddings and dilations");
  PD_CHECK(x[1] == w[1], "conv3d: input has ", x[1], " channels, weight expects ", w[1], " (groups 1 only)");
  Geometry g;
  g.dst[0] = x[0];
  g.dst[1] = w[0];
  for (int i = 0; i < 5; ++i) {
    g.src[i] = x[i];
    g.weights[i] = w[i];
  }
  for (int i = 0; i < 3; ++i) {
    int64_t extent = int64_t(dilations[i]) * (w[2 + i] - 1) + 1;
    int64_t out = (x[2 + i] + 2 * paddings[i] - extent) / strides[i] + 1;
    PD_CHECK(out > 0, "conv3d: empty output along spatial axis ", i);
    g.dst[2 + i] = out;
    g.strides[i] = strides[i];
    g.dilates[i] = dilations[i] - 1;
    g.pad_l[i] = paddings[i];
    // the far side pads only what the last output position reaches (negative: the input's tail is unused)
    g.pad_r[i] = (out - 1) * strides[i] + extent - x[2 + i] - paddings[i];
  }
  return g;
}

dnnl_primitive_attr_t UserScratchpad() {
  dnnl_primitive_attr_t attr = nullptr;
  Check(dnnl_primitive_attr_create(&attr), "attributes");
  Check(dnnl_primitive_attr_set_scratchpad_mode(attr, kScratchpadUser), "scratchpad mode");
  return attr;
}

// Activation layouts per shape, from per-primitive timings of SlowFast's convs (docs/paddle_cpu_limits.md):
// a 1x1x1 kernel is one GEMM over NCDHW as it lies, faster than any blocked kernel once the reorders it needs
// are counted (2x for the strided projections); a stem (fewer than 8 input channels) runs oneDNN's brgemm
// kernels in channels-last (forward 1.5x, weight gradient 1.5x); everything else takes oneDNN's choice.
Layout ActivationLayout(const Geometry& g) {
  if (g.weights[2] == 1 && g.weights[3] == 1 && g.weights[4] == 1) return Layout::kPlain;
  if (g.src[1] < 8) return Layout::kChannelsLast;
  return Layout::kChosen;
}

enum class Kind { kForward, kBackwardData, kBackwardWeights };

// The primitive descriptor of one kind with the given activation layout (null when oneDNN has none).
dnnl_primitive_desc_t Describe(Kind kind, const Geometry& g, Layout layout, const_dnnl_primitive_desc_t hint) {
  auto src = ActivationDesc(g.src, layout), weights = AnyDesc(g.weights), dst = ActivationDesc(g.dst, layout);
  dnnl_primitive_attr_t attr = UserScratchpad();
  dnnl_primitive_desc_t pd = nullptr;
  dnnl_status_t status;
  switch (kind) {
    case Kind::kForward:
      status = dnnl_convolution_forward_primitive_desc_create(&pd, Rt().engine, kForwardTraining, kConvolutionDirect,
                                                              src->get(), weights->get(), nullptr, dst->get(),
                                                              g.strides, g.dilates, g.pad_l, g.pad_r, attr);
      break;
    case Kind::kBackwardData:
      status = dnnl_convolution_backward_data_primitive_desc_create(&pd, Rt().engine, kConvolutionDirect, src->get(),
                                                                    weights->get(), dst->get(), g.strides, g.dilates,
                                                                    g.pad_l, g.pad_r, hint, attr);
      break;
    default:
      status = dnnl_convolution_backward_weights_primitive_desc_create(
          &pd, Rt().engine, kConvolutionDirect, src->get(), weights->get(), nullptr, dst->get(), g.strides, g.dilates,
          g.pad_l, g.pad_r, hint, attr);
  }
  dnnl_primitive_attr_destroy(attr);
  return status == kSuccess ? pd : nullptr;
}

std::string ImplName(const_dnnl_primitive_desc_t pd) {
  const char* name = nullptr;
  if (dnnl_primitive_desc_query(pd, kQueryImplInfoStr, 0, &name) != kSuccess || name == nullptr) return "?";
  return name;
}

// The three primitives of one convolution shape, built on first use.
struct Plan {
  Geometry g;
  Layout layout;
  std::unique_ptr<Step> steps[3];

  explicit Plan(const Geometry& geometry) : g(geometry), layout(ActivationLayout(geometry)) {}

  Step& Get(Kind kind) {
    auto& step = steps[static_cast<int>(kind)];
    if (step) return *step;
    const_dnnl_primitive_desc_t hint = kind == Kind::kForward ? nullptr : Get(Kind::kForward).pd;
    dnnl_primitive_desc_t pd = Describe(kind, g, layout, hint);
    // a layout imposed for speed must not land on oneDNN's slow reference kernel: let oneDNN choose then
    if (layout != Layout::kChosen && (pd == nullptr || ImplName(pd).rfind("ref", 0) == 0)) {
      if (pd != nullptr) dnnl_primitive_desc_destroy(pd);
      pd = Describe(kind, g, Layout::kChosen, hint);
    }
    PD_CHECK(pd != nullptr, "oneDNN has no convolution primitive for this shape");
    step = std::make_unique<Step>();
    step->pd = pd;
    switch (kind) {
      case Kind::kForward:
        step->bindings.emplace_back(pd, kArgSrc, g.src, false);
        step->bindings.emplace_back(pd, kArgWeights, g.weights, false);
        step->bindings.emplace_back(pd, kArgDst, g.dst, true);
        break;
      case Kind::kBackwardData:
        step->bindings.emplace_back(pd, kArgDiffDst, g.dst, false);
        step->bindings.emplace_back(pd, kArgWeights, g.weights, false);
        step->bindings.emplace_back(pd, kArgDiffSrc, g.src, true);
        break;
      default:
        step->bindings.emplace_back(pd, kArgDiffDst, g.dst, false);
        step->bindings.emplace_back(pd, kArgSrc, g.src, false);
        step->bindings.emplace_back(pd, kArgDiffWeights, g.weights, true);
    }
    step->Finish();
    return *step;
  }
};

// Plans by shape and the shared buffers; one convolution runs at a time (oneDNN threads inside it).
struct Cache {
  // a SlowFast R50 has 62 oneDNN convs per input size: room for a few dozen sizes (multigrid, test crops)
  static constexpr size_t kMaxPlans = 2048;

  std::mutex mutex;
  std::map<Key, std::unique_ptr<Plan>> plans;
  Workspace workspace;

  Plan& Get(const Geometry& g) {
    Key key = g.MakeKey();
    if (plans.size() >= kMaxPlans && plans.find(key) == plans.end()) plans.clear();
    auto& plan = plans[key];
    if (!plan) plan = std::make_unique<Plan>(g);
    return *plan;
  }
};

Cache& TheCache() {
  static Cache cache;
  return cache;
}

paddle::Tensor Dense(const paddle::Tensor& t, const char* name) {
  PD_CHECK(t.is_cpu(), "onednn_conv3d: ", name, " must be on the CPU");
  PD_CHECK(t.dtype() == paddle::DataType::FLOAT32, "onednn_conv3d: ", name, " must be float32");
  return t.is_contiguous() ? t : t.contiguous();
}

std::vector<int64_t> Shape(const Dims5& d) { return std::vector<int64_t>(d.begin(), d.end()); }

}  // namespace

std::vector<paddle::Tensor> OneDNNConv3dForward(const paddle::Tensor& x, const paddle::Tensor& weight,
                                                const std::vector<int>& strides, const std::vector<int>& paddings,
                                                const std::vector<int>& dilations, bool need_input_grad,
                                                bool need_weight_grad) {
  paddle::Tensor xs = Dense(x, "input"), ws = Dense(weight, "weight");
  Geometry g = MakeGeometry(xs.shape(), ws.shape(), strides, paddings, dilations);
  paddle::Tensor out = paddle::empty(Shape(g.dst), paddle::DataType::FLOAT32, paddle::CPUPlace());
  Cache& cache = TheCache();
  std::lock_guard<std::mutex> lock(cache.mutex);
  Plan& plan = cache.Get(g);
  // the backward primitives are built here so that an unsupported shape fails where the caller can fall back
  if (need_input_grad) plan.Get(Kind::kBackwardData);
  if (need_weight_grad) plan.Get(Kind::kBackwardWeights);
  plan.Get(Kind::kForward).Run({const_cast<float*>(xs.data<float>()), const_cast<float*>(ws.data<float>()),
                      out.data<float>()},
                     &cache.workspace);
  return {out};
}

std::vector<paddle::Tensor> OneDNNConv3dBackward(const paddle::Tensor& x, const paddle::Tensor& weight,
                                                 const paddle::Tensor& grad_out, const std::vector<int>& strides,
                                                 const std::vector<int>& paddings, const std::vector<int>& dilations,
                                                 bool need_input_grad, bool need_weight_grad) {
  paddle::Tensor xs = Dense(x, "input"), ws = Dense(weight, "weight"), gs = Dense(grad_out, "output gradient");
  Geometry g = MakeGeometry(xs.shape(), ws.shape(), strides, paddings, dilations);
  // a gradient nobody asked for (stop_gradient) is returned unset: Paddle drops it
  paddle::Tensor grad_x = paddle::empty(need_input_grad ? xs.shape() : std::vector<int64_t>{0},
                                        paddle::DataType::FLOAT32, paddle::CPUPlace());
  paddle::Tensor grad_w = paddle::empty(need_weight_grad ? ws.shape() : std::vector<int64_t>{0},
                                        paddle::DataType::FLOAT32, paddle::CPUPlace());
  Cache& cache = TheCache();
  std::lock_guard<std::mutex> lock(cache.mutex);
  Plan& plan = cache.Get(g);
  void* dy = const_cast<float*>(gs.data<float>());
  bool dy_ready = false;  // both steps take the output gradient first: reordered once when their layouts agree
  if (need_input_grad) {
    Step& data = plan.Get(Kind::kBackwardData);
    data.Run({dy, const_cast<float*>(ws.data<float>()), grad_x.data<float>()}, &cache.workspace);
    dy_ready = data.bindings[0].inner_md != nullptr;
  }
  if (need_weight_grad) {
    Step& weights = plan.Get(Kind::kBackwardWeights);
    const Binding& dy_binding = weights.bindings[0];
    dy_ready = dy_ready && dy_binding.inner_md != nullptr &&
               dnnl_memory_desc_equal(dy_binding.inner_md, plan.Get(Kind::kBackwardData).bindings[0].inner_md);
    weights.Run({dy, const_cast<float*>(xs.data<float>()), grad_w.data<float>()}, &cache.workspace, dy_ready);
  }
  return {grad_x, grad_w};
}

std::vector<std::vector<int64_t>> OneDNNConv3dInferShape(const std::vector<int64_t>& x,
                                                         const std::vector<int64_t>& w,
                                                         const std::vector<int>& strides,
                                                         const std::vector<int>& paddings,
                                                         const std::vector<int>& dilations, bool need_input_grad,
                                                         bool need_weight_grad) {
  return {Shape(MakeGeometry(x, w, strides, paddings, dilations).dst)};
}

std::vector<paddle::DataType> OneDNNConv3dInferDtype(const paddle::DataType& x, const paddle::DataType& w) {
  return {x};
}

// The implementation oneDNN chose for each primitive of one shape, for logs and benchmarks.
std::vector<paddle::Tensor> OneDNNConv3dDescribe(const paddle::Tensor& x, const paddle::Tensor& weight,
                                                 const std::vector<int>& strides, const std::vector<int>& paddings,
                                                 const std::vector<int>& dilations) {
  Geometry g = MakeGeometry(x.shape(), weight.shape(), strides, paddings, dilations);
  Cache& cache = TheCache();
  std::lock_guard<std::mutex> lock(cache.mutex);
  Plan& plan = cache.Get(g);
  std::string text = ImplName(plan.Get(Kind::kForward).pd) + ";" + ImplName(plan.Get(Kind::kBackwardData).pd) + ";" +
                     ImplName(plan.Get(Kind::kBackwardWeights).pd);
  paddle::Tensor out = paddle::empty({static_cast<int64_t>(text.size())}, paddle::DataType::UINT8, paddle::CPUPlace());
  std::memcpy(out.data<uint8_t>(), text.data(), text.size());
  return {out};
}

PD_BUILD_OP(pvsf_onednn_conv3d)
    .Inputs({"X", "Weight"})
    .Outputs({"Out"})
    .Attrs({"strides: std::vector<int>", "paddings: std::vector<int>", "dilations: std::vector<int>",
            "need_input_grad: bool", "need_weight_grad: bool"})
    .SetKernelFn(PD_KERNEL(OneDNNConv3dForward))
    .SetInferShapeFn(PD_INFER_SHAPE(OneDNNConv3dInferShape))
    .SetInferDtypeFn(PD_INFER_DTYPE(OneDNNConv3dInferDtype));

PD_BUILD_GRAD_OP(pvsf_onednn_conv3d)
    .Inputs({"X", "Weight", paddle::Grad("Out")})
    .Outputs({paddle::Grad("X"), paddle::Grad("Weight")})
    .Attrs({"strides: std::vector<int>", "paddings: std::vector<int>", "dilations: std::vector<int>",
            "need_input_grad: bool", "need_weight_grad: bool"})
    .SetKernelFn(PD_KERNEL(OneDNNConv3dBackward));

PD_BUILD_OP(pvsf_onednn_conv3d_describe)
    .Inputs({"X", "Weight"})
    .Outputs({"Out"})
    .Attrs({"strides: std::vector<int>", "paddings: std::vector<int>", "dilations: std::vector<int>"})
    .SetKernelFn(PD_KERNEL(OneDNNConv3dDescribe));
