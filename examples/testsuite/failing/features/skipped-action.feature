# Fails on purpose: the librarian's step was skipped; the failure says why.
Feature: Failing on purpose: an action was skipped

  Scenario: A visitor tries to hand out a book
    Given the process is created from the "library" scenario
    And "Mia" is the "member" actor
    And "Otto" is the "librarian" actor with:
      | roles | visitor |
    When "Mia" does "request" with:
      | name | Mia    |
      | card | L-0042 |
      | book | Dune   |
    And the "catalog" service does "confirm" with:
      """yaml
      available: true
      """
    And "Otto" does "hand_out"
    Then the process is in "on_loan"
