# Fails on purpose: the result differs from the expected one in two places.
Feature: Failing on purpose: the result is not as expected

  Scenario: The book comes back damaged
    Given the process is created from the "library" scenario
    And "Mia" is the "member" actor
    And "Lars" is the "librarian" actor
    When "Mia" does "request" with:
      | name | Mia    |
      | card | L-0042 |
      | book | Dune   |
    And the "catalog" service does "confirm" with:
      """yaml
      available: true
      """
    And "Lars" does "hand_out"
    And "Mia" does "return" with "damaged"
    Then the process ended with:
      """yaml
      book: Dune
      condition: good
      extensions: 1
      """
