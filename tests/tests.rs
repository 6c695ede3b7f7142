// integration tests: see tests/*.rs modules
