# Fails on purpose: the scenario is invalid (run with --scenarios
# examples/testsuite/failing/scenarios); the failure lists the validation errors.
Feature: Failing on purpose: an invalid scenario

  Scenario: Using a scenario that does not validate
    Given the process is created from the "broken" scenario
    And "Ava" is the actor
    When "Ava" does "send"
