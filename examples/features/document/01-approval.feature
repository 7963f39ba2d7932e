Feature: A document is reviewed by a partner and signed by a notary

  Background:
    Given the process is created from the "document" scenario
    And "Ann" is the "author" actor
    And "Rick" is the "reviewer" actor
    And "Nora" is the "notary" actor

    When "Ann" does "submit" with:
      """yaml
      title: Supply contract
      version: 1
      url: https://docs.example/contract-v1.pdf
      """
    Then the process is in "review"
    And the state title is "In review"
    And actor "reviewer" has instructions "Review Supply contract version 1 at https://docs.example/contract-v1.pdf."

  Scenario: The reviewer asks for changes once, then the notary signs
    When "Rick" does "request_changes" with:
      | comments | Add a termination clause. |
    Then the process is in "revision"
    And actor "author" has instructions "The reviewer asks: Add a termination clause."

    When "Ann" does "revise" with:
      """yaml
      version: 2
      url: https://docs.example/contract-v2.pdf
      """
    Then the process is in "review"
    And variable "document.version" is 2
    And actor "reviewer" has instructions "Review Supply contract version 2 at https://docs.example/contract-v2.pdf."

    When "Rick" does "approve"
    Then the process is in "signing"

    When "Nora" does "sign"
    Then the process ended in "signed"
    And the result is "Signed Supply contract version 2"
    And nothing is skipped

  Scenario: The notary refuses to sign
    When "Rick" does "approve"
    And "Nora" does "reject" with:
      | reason | The signatory has no authority. |
    Then the process ended in "rejected"
    And the result is:
      """yaml
      reason: The signatory has no authority.
      """

  Scenario: An approved document that is not signed within two weeks expires
    When "Rick" does "approve"
    And 13 days pass
    Then the process is in "signing"

    When 14 days pass
    Then the last event is a timeout
    And the process ended in "expired"

  Scenario: Only the reviewer approves, and only a complete revision counts
    When "Ann" does "approve"
    Then the last event is skipped
    And the process is in "review"

    When "Rick" does "request_changes" with:
      | comments | Fix the dates. |
    And "Ann" does "revise" with:
      """yaml
      version: 2
      """
    Then the last event is skipped
    And the process is in "revision"
