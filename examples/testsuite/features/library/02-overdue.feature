Feature: A book that is not brought back in time

  Background:
    Given the process is created from the "library" scenario
    And "Mia" is the "member" actor
    And "Lars" is the "librarian" actor with:
      | roles | librarian |
    When "Mia" does "request" with:
      | name | Mia Jensen |
      | card | L-0042     |
      | book | Dune       |
    And the "catalog" service does "confirm" with:
      """yaml
      available: true
      shelf: B3
      """
    And "Lars" does "hand_out"
    Then the process is in "on_loan"

  Scenario: Time passes without a return
    When 20 days pass
    Then the process is in "on_loan"
    And the last event is not skipped

    When 3 weeks pass
    Then the last event is a timeout
    And the process is in "overdue"
    And service "mail" is notified with:
      """yaml
      to: !ref actors.member.name
      template: overdue
      book: Dune
      """

    # Time is measured from when the current state was entered, not added up.
    When 1 week passes
    Then the process is in "overdue"

    When 4 weeks pass
    Then the last event is a timeout
    And the process ended in "lost"
    And the state description is:
      """
      "Dune" was not returned.
      """
    And the process has tag "lost"
    And the process doesn't have tag "returned"

  Scenario: A member who extends the loan still has to bring the book back
    When 2 weeks pass
    And "Mia" does "extend"
    Then the process is in "on_loan"
    And variable "extensions" is 1

    When 3 weeks pass
    Then the process is in "overdue"
    And the last event is a timeout

    When "Mia" does "return"
    Then the process ended in "returned"
