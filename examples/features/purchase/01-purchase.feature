Feature: A purchase order between a buyer, a supplier and a bank

  Background:
    Given the process is created from the "purchase" scenario
    And "Alice" is the "buyer" actor
    And "Bob" is the "supplier" actor
    And "Claire" is the "bank" actor

    When "Alice" does "order" with:
      """yaml
      item: bolts
      quantity: 10
      price: 2
      """
    Then the process is in "ordered"
    And variable "order" is:
      """yaml
      item: bolts
      quantity: 10
      price: 2
      """

  Scenario: The order is accepted, shipped, paid and received
    When "Bob" does "accept"
    And "Bob" does "ship" with:
      | tracking | TRACK-42 |
    Then the process is in "shipped"
    And variable "tracking" is "TRACK-42"

    When "Claire" does "pay"
    Then the process is in "paid"
    And variable "paid" is 20

    When "Alice" does "confirm"
    Then the process ended in "done"
    And the result is "Received 10 x bolts, paid 20"
    And nothing is skipped

  Scenario: The supplier declines the order
    When "Bob" does "decline" with:
      | reason | out of stock |
    Then the process ended in "declined"
    And the result is:
      """yaml
      reason: out of stock
      """

  Scenario: Nobody acts out of turn or for another party
    When "Claire" does "pay"
    Then the last event is skipped
    And the process is in "ordered"

    When "Alice" does "accept"
    Then the last event is skipped
    And the process is in "ordered"

    When "Bob" does "accept"
    And "Bob" does "ship" with:
      | carrier | Post |
    Then the last event is skipped
    And the process is in "accepted"
