# Fails on purpose: the step is skipped, but for another reason than the one expected.
Feature: Failing on purpose: skipped with another error

  Scenario: A request without a book
    Given the process is created from the "library" scenario
    And "Mia" is the "member" actor
    When "Mia" does "request" with:
      | name | Mia    |
      | card | L-0042 |
    Then the last event is skipped with "Response is invalid: data must have required property 'name'"
