"""Fixtures shared by Quarry's cross-component tests: real servers, started
on free loopback ports, waited for, and always stopped."""
