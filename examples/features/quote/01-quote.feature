Feature: A customer asks a supplier for a quote

  Background:
    Given the process is created from the "quote" scenario
    And "Carl" is the "customer" actor
    And "Sam" is the "supplier" actor

    When "Carl" does "request" with:
      """yaml
      item: pallets
      quantity: 40
      """
    Then the process is in "requested"
    And actor "supplier" has instructions "Quote 40 x pallets."

  Scenario: The quote is accepted and the order confirmed
    When "Sam" does "quote" with:
      """yaml
      unit_price: 12.5
      """
    Then the process is in "quoted"
    And variable "total" is 500
    And actor "customer" has instructions "The total is 500; the quote is valid for a week."

    When "Carl" does "accept"
    And "Sam" does "confirm" with:
      | delivery | 2025-02-01 |
    Then the process ended in "ordered"
    And the result is "Order of 40 x pallets for 500, delivery 2025-02-01"
    And nothing is skipped

  Scenario: The customer declines
    When "Sam" does "quote" with:
      """yaml
      unit_price: 20
      """
    And "Carl" does "decline"
    Then the process ended in "declined"
    And the result is "declined"

  Scenario: The supplier does not bid
    When "Sam" does "no_bid"
    Then the process ended in "no_bid"
    And the result is "no bid"

  Scenario: A quote left unanswered for a week expires
    When "Sam" does "quote" with:
      """yaml
      unit_price: 12.5
      """
    And 6 days pass
    Then the process is in "quoted"

    When 7 days pass
    Then the last event is a timeout
    And the process ended in "expired"

  Scenario: The customer cannot quote, nor accept before there is a quote
    When "Carl" does "quote" with:
      """yaml
      unit_price: 1
      """
    Then the last event is skipped
    When "Carl" does "accept"
    Then the last event is skipped
    And the process is in "requested"
