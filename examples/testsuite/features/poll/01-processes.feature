Feature: Two polls run side by side

  Background:
    Given the "team" process is created from the "poll" scenario
    And the "board" process is created from the "poll" scenario
    And "Ann" is the "organizer" actor in the "team" process
    And "Ben" is the "participant" actor in the "team" process
    And "Cleo" is the "organizer" actor in the "board" process

  Scenario: One poll is decided while the other one runs out of time
    When "Ann" does "propose" in the "team" process with:
      | 2025-03-03 |
      | 2025-03-04 |
      | 2025-03-05 |
    And "Cleo" does "propose" in the "board" process with:
      """yaml
      - 2025-04-01
      - 2025-04-02
      """
    Then the "team" process is in "voting"
    And nothing is skipped in the "board" process
    And the "team" process has actor "participant"
    And variable "options" of the "team" process is:
      """yaml
      - 2025-03-03
      - 2025-03-04
      - 2025-03-05
      """
    And actor "participant" in the "team" process has instructions:
      """
      Pick a date:
      - 2025-03-03
      - 2025-03-04
      - 2025-03-05
      """
    And service "calendar" in the "team" process is notified with:
      """yaml
      actions:
        - key: remind
          title: Send a reminder
          description: ""
          actor: [service:calendar]
          response:
            type: string
      instructions: Send a reminder when the participant has not voted by tomorrow.
      """
    And service "calendar" in the "board" process is not notified

    When the "calendar" service does "remind" in the "team" process with "Please vote today"
    Then variable "reminder" of the "team" process is "Please vote today"
    When the "calendar" service does "cancel" in the "board" process
    Then the last event of the "board" process is skipped with "Service 'calendar' is not allowed to perform action 'cancel'"
    And the "board" process is in "voting"

    When "Ben" does "vote" in the "team" process with "2025-03-09"
    Then the last event of the "team" process is skipped with "Action 'vote' is not allowed due to if condition"

    When "Ben" does "vote" in the "team" process with "2025-03-04"
    Then the "team" process ended in "decided"
    And the state title of the "team" process is "Meeting on 2025-03-04"
    And the "team" process result is "2025-03-04"
    And the result of the "team" process is:
      """yaml
      !ref vars.options[1]
      """
    And the "team" process has tag "scheduled"
    And the last event of the "team" process is not skipped

    When 2 days pass
    Then the "board" process ended in "no_date"
    And the last event of the "board" process is a timeout
    And the "board" process doesn't have tag "scheduled"
    And the "team" process ended in "decided"

  Scenario: Time passes for one process only
    When "Ann" does "propose" in the "team" process with:
      | 2025-05-01 |
      | 2025-05-02 |
    And "Cleo" does "propose" in the "board" process with:
      | 2025-06-01 |
      | 2025-06-02 |
    And 3 days pass for the "board" process
    Then the "board" process ended in "no_date"
    And the "team" process has not ended
    And the "team" process has not ended in "no_date"
