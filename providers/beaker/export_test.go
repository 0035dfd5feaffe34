package beaker

// ReserveTime is reserveTime, for tests.
var ReserveTime = reserveTime
