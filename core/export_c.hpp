#pragma once

// `mlo export --format c` (issue 6): a built-in model as one dependency-free C99 source file.
//
// The generated code scores a row with the same arithmetic, in the same order, as predict() in
// core/learner.cpp (impute, standardise, one-hot, the same four-way partial sums of the dot
// product, then the same sigmoid / max-shifted softmax), and its constants are printed with 17
// significant digits, so on a machine with IEEE double arithmetic it returns bit-identical
// probabilities and values. docs/model-format.md ("Embedded export") documents the C API.

#include <string>

#include "core/learner.hpp"

namespace mlo::core {

struct ExportCOptions {
    // Prefix of every symbol the file defines (`mlo_model_predict`); macros use it in upper
    // case (`MLO_MODEL_N_FEATURES`, `MLO_MODEL_MAIN`). Must be a C identifier.
    std::string prefix = "mlo_model";
    // Names the model in the file's header comment ("churn:3", "models/churn.json"); "" omits it.
    std::string source;
};

// True for [A-Za-z_][A-Za-z0-9_]*.
bool is_c_identifier(const std::string& s);

// The C source. Throws mlo::Error for a prefix that is not a C identifier, and for a model C
// strings cannot express (a feature, class or category name containing a NUL byte) or whose
// sizes do not fit together.
std::string export_c(const Model& m, const ExportCOptions& o = {});

}  // namespace mlo::core
