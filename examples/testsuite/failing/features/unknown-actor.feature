# Fails on purpose: "Max" was never introduced as an actor.
Feature: Failing on purpose: an unknown actor

  Scenario: Someone nobody knows acts
    Given the process is created from the "library" scenario
    And "Mia" is the "member" actor
    When "Max" does "request"
