Feature: A member borrows a book and brings it back

  Background:
    Given the process is created from the "library" scenario
    And "Mia" is the "member" actor
    And "Lars" is the "librarian" actor with:
      """yaml
      id: staff-7
      roles: [librarian]
      """

    When "Mia" does "request" with:
      | name | Mia Jensen |
      | card | L-0042     |
      | book | Dune       |
    Then the last event is not skipped
    And the process is in "requested"
    And service "catalog" is notified

  Scenario: The book is on the shelf
    When the "catalog" service does "confirm" with:
      """yaml
      available: true
      shelf: B3
      """
    Then the process is in "ready"
    And the state title is "Ready for pick-up"
    And the state description is "Pick up "{{ vars.book }}" at shelf B3."
    And actor "librarian" has instructions:
      """
      Hand out "Dune" to Mia Jensen.
      Card: {{ actors.member.card }}
      """
    And actor "member" has "name" is "Mia Jensen"
    And actor "member" has "card" is "L-0042"
    And actor "member" has "title" is:
      """yaml
      Member
      """
    And variable "shelf" is "B3"
    And the process has not ended

    When "Lars" does "hand_out"
    Then the process is in "on_loan"
    And actor "member" has instructions "Bring "Dune" back within 3 weeks."
    And service "catalog" is not notified

    When "Mia" does "return" with "damaged"
    Then the process ended in "returned" with:
      """yaml
      book: Dune
      condition: damaged
      extensions: !ref vars.extensions
      """
    And the process ended with:
      """yaml
      book: Dune
      condition: damaged
      extensions: 0
      """
    And the result is:
      """yaml
      book: !ref vars.book
      condition: damaged
      extensions: !ref vars.extensions
      """
    And the process has tag "library"
    And the process has tag "returned"
    And the process doesn't have tag "lost"
    And nothing is skipped

  Scenario: The book is not available
    When the "catalog" service does "confirm" with:
      """json
      { "available": false }
      """
    Then the process ended in "unavailable"
    And the state title is:
      """
      Not available
      """
    And the process has not ended in "returned"
    And the result is null

  Scenario: The member extends the loan twice, but not a third time
    When the "catalog" service does "confirm" with:
      | available | true |
    Then the last event is skipped with "Response is invalid: data/available must be boolean"

    When the "catalog" service does "confirm" with:
      """yaml
      available: true
      """
    And "Lars" does "hand_out"
    And "Mia" does "extend"
    And "Mia" does "extend"
    Then variable "extensions" is 2
    And the process is in "on_loan"
    And the last event is not skipped

    When "Mia" does "extend"
    Then the last event is skipped with "Action 'extend' is not allowed due to if condition"
    And variable "extensions" is 2

    When "Lars" does "return"
    Then the process ended in "returned"
    # Not valid YAML, so the doc string is a Mustache template.
    And variable "book" is:
      """
      {{ result.book }}
      """
    And the result is:
      """yaml
      book: Dune
      condition: good
      extensions: 2
      """
