package container

// Engine is the runtime's client of the Docker engine, for the tests to look at what it did.
var Engine = engine
