Feature: Adding up numbers, with the default actor

  Background:
    Given the process is created from the "tally" scenario
    And "Kim" is the actor

  Scenario: Numbers are added to the result
    Then the result is 0
    When "Kim" does "add" with 5
    And "Kim" does "add" with 2.5
    Then the result is 7.5
    And the process has actor "actor"
    And actor "actor" has "title" is "actor"
    And the process has not ended

    When "Kim" does "add" with "three"
    Then the last event is skipped with "Response is invalid: data must be number"

    When "Kim" does "close" with true
    Then the process ended in "closed"
    And variable "confirmed" is true
    And the result is 7.5
