package pool

// CPUTime is cpuTime for the external test package's benchmarks.
var CPUTime = cpuTime
