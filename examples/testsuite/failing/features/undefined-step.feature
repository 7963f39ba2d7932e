# Fails on purpose: "borrows" is not a step; the failure names the closest step form.
Feature: Failing on purpose: an undefined step

  Scenario: A step that does not exist
    Given the process is created from the "library" scenario
    And "Mia" is the "member" actor
    When "Mia" borrows "Dune"
