Feature: Only the right people can act

  Background:
    Given the process is created from the "library" scenario
    And "Mia" is the "member" actor
    And "Otto" is the "librarian" actor with:
      """yaml
      roles: [visitor]
      """

  Scenario: Someone without the librarian role cannot hand out books
    When "Mia" does "request" with:
      | name | Mia Jensen |
      | card | L-0042     |
      | book | Dune       |
    And the "catalog" service does "confirm" with:
      """yaml
      available: true
      """
    And "Otto" does "hand_out"
    Then the last event is skipped with:
      | User is not allowed to perform as actor 'librarian' |
    And the process is in "ready"

  Scenario: A member cannot confirm for the catalog
    When "Mia" does "request" with:
      | name | Mia Jensen |
      | card | L-0042     |
      | book | Dune       |
    And "Mia" does "confirm" with:
      """yaml
      available: true
      """
    Then the last event is skipped with:
      """yaml
      - Actor 'member' is not allowed to perform action 'confirm'
      """
    And the process is in "requested"

  Scenario Outline: The request form checks the library card <card>
    When "Mia" does "request" with:
      | name | Mia     |
      | card | <card>  |
      | book | Solaris |
    Then the last event <outcome>
    And the process is in "<state>"

    Examples:
      | card   | outcome           | state     |
      | L-1234 | is not skipped    | requested |
      | 1234   | is skipped        | initial   |
      | L-12   | is skipped        | initial   |
