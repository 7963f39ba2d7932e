# Fails on purpose: there is no scenario called "lending".
Feature: Failing on purpose: a scenario that does not exist

  Scenario: Using a scenario that is not there
    Given the process is created from the "lending" scenario
