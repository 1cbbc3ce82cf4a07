// tap's coverage map (.taprc `coverage-map`): whatever test file runs, coverage is measured on src/
// only, not on the test harness. Child processes the tests spawn (webhook servers, the built CLI,
// mapped back to src/ through its source maps) inherit the measurement from tap's processinfo.
export default () => ['src/**/*.ts']
