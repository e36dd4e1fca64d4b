// The text of calibration/default.yaml, embedded at build time (src/CMakeLists.txt generates
// default_calibration_yaml.cpp from the file), so the shipped file is the one source of the
// built-in calibration.
#pragma once

namespace saturn {
extern const char* const kDefaultCalibrationYaml;
}
